"""The contract between this program and the runtimes it deploys: names and numbers that live once.

* the executor container's name, port, user and writable paths (the environment variable names of both
  runtimes live in `deep_insight_contract.environment`);
* the per-session target-group template the agent uses for every executor session, checked here
  against the ALB's limits.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

EXECUTOR_CONTAINER = "executor"
EXECUTOR_PORT = 8080
EXECUTOR_UID = 10001  # the non-root user both Dockerfiles create
EXECUTOR_WORKDIR = "/workspace"
EXECUTOR_TMPDIR = "/tmp"
# The only paths the executor may write (its root filesystem is read-only): each is a task-definition
# bind mount AND a ``VOLUME`` of the image, so Fargate gives the mount the image's owner and mode
# (without the VOLUME it would be root:root 0755, unwritable by uid 10001).
EXECUTOR_WRITABLE_PATHS = (EXECUTOR_WORKDIR, EXECUTOR_TMPDIR)

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
    task routable about 10 s after it listens (the predecessor's 30 s interval took 59 s); a 5 s
    deregistration delay instead of the default 300 s lets a finished session's target group go at once.
    """

    name_prefix: str
    port: int = EXECUTOR_PORT
    protocol: str = "HTTP"
    target_type: str = "ip"
    health_check_path: str = "/health"
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


def target_group_prefix(stack: str) -> str:
    """``di-<stack>-`` trimmed to 16 characters, so a session suffix of 16 fits ALB's 32."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", stack.lower()).strip("-") or "stack"
    return f"di-{cleaned}"[:15].rstrip("-") + "-"


def agentcore_runtime_name(stack: str) -> str:
    """AgentCore runtime names are ``[a-zA-Z][a-zA-Z0-9_]{0,47}``: no hyphens."""
    cleaned = re.sub(r"[^a-zA-Z0-9]+", "_", stack).strip("_")
    return f"deep_insight_{cleaned}"[:48].rstrip("_")
