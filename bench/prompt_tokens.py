"""Tokens a job sends its models, with and without Bedrock's prompt cache (used by bench/agent_bench.py).

The cache as modelled here, from the Amazon Bedrock user guide ("Prompt caching for faster model inference")
and strands' "auto" strategy (``deep_insight_agent.bedrock.PROMPT_CACHE``):

- a request has cache points after its tool specs and system prompt, and at the end of its last message;
- a cache point stores the prefix up to it only if that prefix holds at least ``MIN_CACHE_TOKENS``
  (1,024 for Claude Sonnet 4.5, the stacks' default model);
- a request reads the longest stored prefix it starts with, looking back up to ``LOOKBACK`` messages; what
  lies between that and its last storing cache point is written; everything else is plain input;
- entries live 5 minutes after their last use, and one agent's turns are seconds apart: expiry is ignored.

Relative prices, from Amazon Bedrock's pricing page for Claude Sonnet 4.5 (input $3.00, cache write
$3.75, cache read $0.30 per million tokens): a written token costs 1.25 input tokens, a read one 0.1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from deep_insight_agent.scripted import Prompt

MIN_CACHE_TOKENS = 1024
LOOKBACK = 20
WRITE_PRICE = 1.25
READ_PRICE = 0.10


@dataclass
class Tally:
    turns: int = 0
    input_tokens: int = 0
    """Everything sent: plain input, cache reads and cache writes together."""
    output_tokens: int = 0
    cache_read: int = 0
    cache_write: int = 0

    @property
    def billed_input(self) -> float:
        """Input in plain-input-token equivalents: what the input costs, in units of one input token."""
        plain = self.input_tokens - self.cache_read - self.cache_write
        return plain + WRITE_PRICE * self.cache_write + READ_PRICE * self.cache_read


def tally(prompts: Iterable[Prompt], count: Callable[[str], int], *, cached: bool) -> Tally:
    """Count a job's prompts in the order they were sent. Entries are keyed by content, as Bedrock's are:
    agents with different system prompts share none, a later run of the same agent starts from its own."""
    result = Tally()
    stored: set[tuple[str, str, tuple[str, ...]]] = set()
    for prompt in prompts:
        head = count(prompt.tools) + count(prompt.system)
        sizes = [count(message) for message in prompt.messages]
        total = head + sum(sizes)
        result.turns += 1
        result.input_tokens += total
        result.output_tokens += count(prompt.reply)
        if not cached:
            continue
        n = len(prompt.messages)
        read = 0
        for k in range(n, max(n - LOOKBACK, 0) - 1, -1):
            if (prompt.tools, prompt.system, prompt.messages[:k]) in stored:
                read = head + sum(sizes[:k])
                break
        written = read
        for k, upto in ((0, head), (n, total)):
            if upto >= MIN_CACHE_TOKENS:
                stored.add((prompt.tools, prompt.system, prompt.messages[:k]))
                written = max(written, upto)
        result.cache_read += read
        result.cache_write += written - read
    return result
