"""Small helpers for the AWS calls of executor sessions and the reaper: every page of a listener's rules,
and bounded, jittered retries of `DeleteTargetGroup`, which AWS may refuse with ``ResourceInUse`` for a
while right after the rule that forwarded to the group was deleted; and what a stopped ECS task says about why."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError
from deep_insight_contract.executor import EXIT_MEANINGS

TARGET_GROUP_DELETE_DEADLINE_SECONDS = 60.0
"""How long a target group's deletion is retried while AWS still reports it in use by a deleted rule."""


def error_code(error: BaseException) -> str | None:
    return error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None


def backoff(deadline_seconds: float, *, first: float = 0.5, most: float = 8.0) -> Iterator[float]:
    """Jittered pauses (exponential, at most ``most``) for as long as the next one ends before the deadline."""
    deadline = time.monotonic() + deadline_seconds
    delay = first
    while time.monotonic() + delay <= deadline:
        yield delay * random.uniform(0.5, 1.0)
        delay = min(most, delay * 2)


def listener_rules(elbv2: Any, listener_arn: str) -> list[dict[str, Any]]:
    """Every rule of the listener, following ``NextMarker`` (a page holds at most 400, moto's 50)."""
    return [
        rule
        for page in elbv2.get_paginator("describe_rules").paginate(ListenerArn=listener_arn)
        for rule in page["Rules"]
    ]


def forwards_to(rule: dict[str, Any], target_group_arn: str) -> bool:
    for action in rule.get("Actions", []):
        if action.get("TargetGroupArn") == target_group_arn:
            return True
        groups = action.get("ForwardConfig", {}).get("TargetGroups", [])
        if any(g.get("TargetGroupArn") == target_group_arn for g in groups):
            return True
    return False


def delete_target_group(elbv2: Any, arn: str, *, deadline_seconds: float) -> None:
    """``DeleteTargetGroup``, retried on ``ResourceInUse`` until ``deadline_seconds``; then AWS's error."""
    for pause in backoff(deadline_seconds):
        try:
            elbv2.delete_target_group(TargetGroupArn=arn)
            return
        except ClientError as error:
            if error_code(error) != "ResourceInUse":
                raise
        time.sleep(pause)
    elbv2.delete_target_group(TargetGroupArn=arn)


def stopped_reason(task: Mapping[str, Any]) -> str:
    """ECS's reason for a stopped task, with its container's exit code and what that code means.

    ``stoppedReason`` alone says only "Essential container in task exited"; the container's ``exitCode``
    and ``reason`` tell why (e.g. 73: the executor could not write its workdir).
    """
    parts = [str(task.get("stoppedReason") or task.get("lastStatus", "stopped"))]
    for container in task.get("containers", []):
        code, reason = container.get("exitCode"), container.get("reason")
        if code is None and not reason:
            continue
        detail = f"container {container.get('name', '?')}"
        if code is not None:
            detail += f" exit {code}" + (f" ({EXIT_MEANINGS[code]})" if code in EXIT_MEANINGS else "")
        if reason:
            detail += f": {reason}"
        parts.append(detail)
    return "; ".join(parts)
