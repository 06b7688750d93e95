"""The prompt-cache arithmetic behind the README's token figures, on prompts small enough to add up by
hand (one character = one token here)."""

from __future__ import annotations

from deep_insight_agent.scripted import Prompt

from bench.prompt_tokens import MIN_CACHE_TOKENS, tally

SYSTEM, TOOLS = "s" * 600, "t" * 500  # 1,100 tokens: over the 1,024 a cache point needs
TASK, CALL, RESULT = "m" * 100, "a" * 50, "r" * 200


def agent_turns(system: str = SYSTEM, tools: str = TOOLS) -> list[Prompt]:
    return [
        Prompt(system, tools, (TASK,), reply="x" * 50),
        Prompt(system, tools, (TASK, CALL, RESULT), reply="y" * 10),
    ]


def test_without_the_cache_every_turn_sends_everything():
    counted = tally(agent_turns(), len, cached=False)
    assert (counted.turns, counted.input_tokens, counted.output_tokens) == (2, 1200 + 1450, 60)
    assert counted.billed_input == 2650


def test_the_second_turn_reads_the_first_turns_prefix_and_writes_only_what_is_new():
    counted = tally(agent_turns(), len, cached=True)
    assert (counted.cache_read, counted.cache_write) == (1200, 1200 + 250)
    assert counted.billed_input == 1.25 * 1450 + 0.1 * 1200  # 1,932.5: writes cost more than they save here


def test_a_prefix_under_the_minimum_is_never_cached():
    short = tally(agent_turns(system="s" * 100, tools="t" * 100), len, cached=True)
    assert MIN_CACHE_TOKENS > 200 + 100 + 350
    assert (short.cache_read, short.cache_write) == (0, 0)
    assert short.billed_input == short.input_tokens


def test_a_second_run_of_an_agent_reads_its_system_prompt_and_tools_another_agent_reads_nothing():
    one = tally(agent_turns(), len, cached=True)
    again = tally([*agent_turns(), Prompt(SYSTEM, TOOLS, ("n" * 100,), reply="")], len, cached=True)
    assert again.cache_read - one.cache_read == 1100  # the head; its new task is written
    assert again.cache_write - one.cache_write == 100
    other = tally([*agent_turns(), Prompt("o" * 600, TOOLS, (TASK,), reply="")], len, cached=True)
    assert other.cache_read == one.cache_read
