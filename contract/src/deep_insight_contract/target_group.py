"""The per-session target group: what the program sets (agent environment) and the agent creates per session.

The program writes `SessionTargetGroupTemplate.to_json` into the agent's environment; the agent, the session
sweeper and ``deep-insight reap`` read it back with `SessionTargetGroupTemplate.from_json`. The template
refuses values the ALB would reject (elbv2 API reference), so a bad one fails at ``pulumi preview``.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import get_type_hints

from deep_insight_contract.executor import HEALTH_PATH

EXECUTOR_PORT = 8080
"""The executor's HTTP port (SPEC §6): its container listens there, every session's target group sends there."""

# ALB limits (elbv2 API reference).
HEALTH_CHECK_INTERVAL_RANGE = range(5, 301)
HEALTH_CHECK_TIMEOUT_RANGE = range(2, 121)
HEALTHY_THRESHOLD_RANGE = range(2, 11)
DEREGISTRATION_DELAY_RANGE = range(0, 3601)
TARGET_GROUP_NAME_MAX = 32


@dataclass(frozen=True)
class SessionTargetGroupTemplate:
    """Settings of every per-session target group (one executor task each).

    Tuned for a task that is either healthy or gone: a 5 s interval and 2 healthy checks make a new
    task routable about 10 s after it listens (with a 30 s interval it takes about 59 s); a 5 s
    deregistration delay instead of the default 300 s lets a finished session's target group go at once.
    """

    name_prefix: str
    port: int = EXECUTOR_PORT
    protocol: str = "HTTP"
    target_type: str = "ip"
    health_check_path: str = HEALTH_PATH
    health_check_interval_seconds: int = 5
    health_check_timeout_seconds: int = 4
    healthy_threshold_count: int = 2
    unhealthy_threshold_count: int = 2
    matcher: str = "200"
    deregistration_delay_seconds: int = 5

    def __post_init__(self) -> None:
        problems = []
        if self.health_check_interval_seconds not in HEALTH_CHECK_INTERVAL_RANGE:
            problems.append("health-check interval must be 5-300 s")
        if self.health_check_timeout_seconds not in HEALTH_CHECK_TIMEOUT_RANGE:
            problems.append("health-check timeout must be 2-120 s")
        if self.health_check_timeout_seconds >= self.health_check_interval_seconds:
            problems.append("health-check timeout must be shorter than the interval")
        for count in (self.healthy_threshold_count, self.unhealthy_threshold_count):
            if count not in HEALTHY_THRESHOLD_RANGE:
                problems.append("thresholds must be 2-10")
        if self.deregistration_delay_seconds not in DEREGISTRATION_DELAY_RANGE:
            problems.append("deregistration delay must be 0-3600 s")
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,14}-", self.name_prefix):
            problems.append(
                "name prefix must be 2-16 of [a-z0-9-], ending in '-', leaving 16 characters for the session"
            )
        if problems:
            raise ValueError("; ".join(problems))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SessionTargetGroupTemplate:
        """The template `to_json` wrote: every field, of its type, and nothing else (ValueError, one line)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"not JSON ({error.msg} at column {error.colno})") from None
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        types = get_type_hints(cls)
        missing = [name for name in types if name not in data]
        unknown = sorted(set(data) - set(types))
        wrong = [
            f"{name} is not {'a whole number' if kind is int else 'a string'}"
            for name, kind in types.items()
            if name in data and (type(data[name]) is not kind)  # bool is not a whole number here
        ]
        problems = ([f"lacks {', '.join(missing)}"] if missing else []) + (
            [f"unknown {', '.join(unknown)}"] if unknown else []
        )
        if problems := problems + wrong:
            raise ValueError("; ".join(problems))
        return cls(**data)


def target_group_prefix(stack: str) -> str:
    """``di-<stack>-`` trimmed to 16 characters, so a session suffix of 16 fits ALB's 32."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", stack.lower()).strip("-") or "stack"
    return f"di-{cleaned}"[:15].rstrip("-") + "-"
