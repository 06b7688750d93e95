"""Configuration problems, collected and reported together.

Every user mistake in stack configuration becomes one `Problem` (one line: key, bad value, fix). A
`ConfigError` carries all problems found so the user fixes them in one round; `__main__.py` turns it
into `pulumi.RunError`, which the Pulumi CLI prints without a Python traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# A full config key as Pulumi writes it: namespace, colon, dotted name (no spaces).
_KEYED_LINE = re.compile(r"(?P<key>[A-Za-z0-9_.-]+:[A-Za-z0-9_.\[\]-]+): (?P<message>.+)")


@dataclass(frozen=True)
class Problem:
    key: str
    """The full config key as written in the stack file, e.g. ``deep-insight:network.cidr``."""
    message: str
    """What is wrong with the value and how to fix it, in one sentence."""

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"

    @classmethod
    def from_line(cls, line: str) -> Problem | None:
        """The problem a line of `ConfigError`'s text reports, or None for a line not about one key."""
        match = _KEYED_LINE.fullmatch(line.strip())
        return cls(match["key"], match["message"]) if match else None


class ConfigError(Exception):
    """One or more invalid stack settings; ``str()`` gives one line per problem."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("ConfigError needs at least one problem")
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(p.key for p in self.problems)
