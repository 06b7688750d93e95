"""What the model is told of an executor call: the real executor's answers to typical mistakes and
floods, reduced to what a model needs to act on, and the cutting rules as properties."""

from __future__ import annotations

import asyncio
import random

import pytest
from deep_insight_agent.executor_client import ExecutorClient
from deep_insight_agent.executor_local import LocalExecutorSession
from deep_insight_agent.tool_results import (
    LINE_CHARS,
    STDOUT_CHARS,
    clean,
    collapse_repeats,
    head_and_tail,
    shorten_line,
    summarize,
)
from deep_insight_contract.executor import ExecuteResult

from tests.runtimes.conftest import DATA, TOKEN

SID = "tool-results-session-0123456789abcdef012"


@pytest.fixture(scope="module")
def answers(start_executor) -> dict[str, ExecuteResult]:
    """The real executor's answers to calls a coder typically makes, keyed by what each shows."""
    executor = start_executor()
    calls = {
        "load": "import pandas as pd\nsales = pd.read_csv('data/sales.csv')\nprint(sales.head())",
        "wrong column": "sales['매출']",
        "syntax": "print(sales['금액'].sum()",
        "own module": "import helpers\nhelpers.total(sales)",
        "flood": "for i in range(5000): print(i, 'row', i * 2)",
        "progress": "import sys\nfor p in range(0, 101, 10): sys.stdout.write(f'\\r{p}%')\nprint()",
        "silent": "x = 1",
    }

    async def run() -> dict[str, ExecuteResult]:
        async with LocalExecutorSession(executor.url, SID, TOKEN) as session, ExecutorClient(session) as client:
            await client.put_file("data/sales.csv", DATA.read_bytes())
            await client.put_file("helpers.py", b"def total(frame):\n    return frame['no such column'].sum()\n")
            return {name: await client.execute(code) for name, code in calls.items()}

    return asyncio.run(run())


def test_a_wrong_column_shows_the_line_and_the_error_not_pandas_internals(answers):
    result = answers["wrong column"]
    assert result.error is not None
    assert result.error.traceback is not None
    assert "site-packages" in result.error.traceback  # what the executor sends
    told = summarize(result)
    first = told.splitlines()[:4]
    assert first[:2] == ["status: error", "error: KeyError: '매출'"]
    assert first[2].startswith("Cell In[")
    assert first[3] == "----> 1 sales['매출']"
    assert "site-packages" not in told
    assert "frame(s) in library code left out" in told
    assert len(told) < len(result.error.traceback) / 10


def test_a_frame_in_the_models_own_module_is_kept(answers):
    told = summarize(answers["own module"])
    assert "helpers.py:2, in total" in told
    assert "return frame['no such column'].sum()" in told
    assert "error: KeyError: 'no such column'" in told
    assert "site-packages" not in told


def test_a_syntax_error_keeps_its_caret(answers):
    told = summarize(answers["syntax"])
    assert "SyntaxError" in told
    assert "^" in told


def test_a_flood_keeps_its_first_and_last_lines_within_the_budget(answers):
    result = answers["flood"]
    told = summarize(result)
    stdout = told.split("stdout:\n", 1)[1]
    assert len(stdout) <= STDOUT_CHARS + 40
    lines = stdout.splitlines()
    assert lines[0] == "0 row 0"
    assert lines[-1] == "4999 row 9998"
    marker = next(line for line in lines if "left out" in line)
    sent = result.stdout.rstrip("\n").split("\n")  # the executor caps a flood too, with a line saying so
    assert int(marker.split()[1]) + len(lines) - 1 == len(sent)  # every line sent is shown or counted


def test_a_progress_redraw_is_its_last_state(answers):
    assert summarize(answers["progress"]).endswith("stdout:\n100%")


def test_a_call_with_no_output_says_so(answers):
    assert summarize(answers["silent"]) == "status: ok\n(no output)"


def test_what_fits_is_passed_on_whole(answers):
    result = answers["load"]
    assert summarize(result) == f"status: ok\nstdout:\n{result.stdout.rstrip()}"


def test_clean_drops_colour_codes_and_redraws():
    assert clean("\x1b[0;31mKeyError\x1b[0m: 'x'") == "KeyError: 'x'"
    assert clean("10%\r50%\r100%\nnext\r\n") == "100%\nnext\n"


def test_repeated_lines_become_one_and_a_count():
    assert collapse_repeats(["a", "a", "a", "b", "a"]) == ["a", "[the line above repeated 2 more time(s)]", "b", "a"]


def test_a_long_line_keeps_its_start_and_says_how_much_is_left():
    line = "x" * (LINE_CHARS + 123)
    assert shorten_line(line) == "x" * LINE_CHARS + "… [123 more characters on this line]"


@pytest.mark.parametrize("seed", range(40))
def test_head_and_tail_keeps_whole_lines_from_both_ends_and_counts_the_rest(seed):
    rng = random.Random(seed)
    lines = [f"{i}:" + "y" * rng.randrange(0, 120) for i in range(rng.randrange(1, 400))]
    budget = rng.randrange(50, 6000)
    kept = head_and_tail(lines, budget)
    if sum(len(line) + 1 for line in lines) <= budget:
        assert kept == lines
        return
    (at,) = [i for i, line in enumerate(kept) if line.startswith("[… ")]
    head, tail = kept[:at], kept[at + 1 :]
    assert head == lines[: len(head)]
    assert tail == (lines[-len(tail) :] if tail else [])
    assert int(kept[at].split()[1]) == len(lines) - len(head) - len(tail)
    assert sum(len(line) + 1 for line in head + tail) <= budget
