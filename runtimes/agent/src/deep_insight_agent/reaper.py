"""The reaper: removes what crashed runtimes left behind (listener rules, target groups, executor tasks),
found by their tags. Plain functions of boto3 clients, without the CLI: the agent runtime sweeps at every
session start, ``deep-insight reap`` on demand, and `reap_stack` clears a whole stack before destroy."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from deep_insight_contract.tags import CREATED_FORMAT, CREATED_TAG, SESSION_TAG, STACK_TAG

from deep_insight_agent.aws_calls import (
    TARGET_GROUP_DELETE_DEADLINE_SECONDS,
    backoff,
    delete_target_group,
    listener_rules,
)
from deep_insight_agent.config import EcsSettings

# Past its session timeout an executor ends itself, so nothing of a live session is older than that
# timeout plus the time to start a task and the clock skew between machines.
ORPHAN_MARGIN = timedelta(minutes=10)
STOP_DEADLINE_SECONDS = 600.0
"""How long `reap_stack` waits for stopped tasks to reach STOPPED (Fargate's stop timeout is 30 s-2 min)."""


@dataclass(frozen=True)
class ReapFailure:
    """An orphan AWS refused to remove; the next sweep tries it again."""

    kind: str
    """``"listener rule"``, ``"target group"`` or ``"task"``."""
    arn: str
    code: str
    """The AWS error code, e.g. ``AccessDenied`` or ``ResourceInUse``."""
    message: str


@dataclass
class Reaped:
    rules: list[str] = field(default_factory=list)
    target_groups: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    failures: list[ReapFailure] = field(default_factory=list)
    """Removals that failed; the others were still attempted."""
    not_stopped: list[str] = field(default_factory=list)
    """Only from `reap_stack`: tasks of the stack that had not reached STOPPED by its deadline."""


def created_before(tags: Mapping[str, str], cutoff: datetime) -> bool:
    """Whether a session resource's ``deep-insight:created`` tag is older than ``cutoff``; undated is not."""
    try:
        return datetime.strptime(tags.get(CREATED_TAG, ""), CREATED_FORMAT).replace(tzinfo=UTC) < cutoff
    except ValueError:
        return False


SessionResources = dict[str, dict[str, dict[str, str]]]
"""kind (``listener rule``, ``target group``, ``task``) → ARN → tags."""


def describe_tasks(ecs: Any, cluster: str, arns: list[str]) -> list[dict[str, Any]]:
    """The tasks with their tags, 100 at a time (DescribeTasks' limit); tasks ECS no longer knows are left out."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(arns), 100):
        found += ecs.describe_tasks(cluster=cluster, tasks=arns[start : start + 100], include=["TAGS"])["tasks"]
    return found


def _task_tags(task: Mapping[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in task.get("tags", [])}


def _list_tasks(ecs: Any, cluster: str, desired: str) -> list[str]:
    pages = ecs.get_paginator("list_tasks").paginate(cluster=cluster, desiredStatus=desired)
    return [arn for page in pages for arn in page["taskArns"]]


def session_resources(settings: EcsSettings, *, ecs: Any, elbv2: Any) -> SessionResources:
    """Every resource a session may leave behind, with its tags: the listener's non-default rules, the target
    groups named with the stack's prefix, and the cluster's running tasks (the reaper and `verify` read this)."""

    def elb_tags(arns: list[str]) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        for start in range(0, len(arns), 20):  # DescribeTags takes 20 ARNs at a time
            for description in elbv2.describe_tags(ResourceArns=arns[start : start + 20])["TagDescriptions"]:
                found[description["ResourceArn"]] = {t["Key"]: t["Value"] for t in description.get("Tags", [])}
        return found

    rules = [r["RuleArn"] for r in listener_rules(elbv2, settings.listener_arn) if not r["IsDefault"]]
    prefix = settings.target_group.name_prefix
    groups = [
        g["TargetGroupArn"]
        for page in elbv2.get_paginator("describe_target_groups").paginate()
        for g in page["TargetGroups"]
        if g["TargetGroupName"].startswith(prefix)
    ]
    running = _list_tasks(ecs, settings.cluster_arn, "RUNNING")
    tasks = {t["taskArn"]: _task_tags(t) for t in describe_tasks(ecs, settings.cluster_arn, running)}
    return {"listener rule": elb_tags(rules), "target group": elb_tags(groups), "task": tasks}


def orphan_age(settings: EcsSettings) -> timedelta:
    """The age past which a session's task, target group and rule can only be left over.

    A fixed 30 minutes (the first version) would have reaped a live session of a long job.
    """
    return timedelta(seconds=settings.executor_session_timeout_seconds) + ORPHAN_MARGIN


def reap(
    settings: EcsSettings,
    *,
    ecs: Any,
    elbv2: Any,
    older_than: timedelta | None,
    keep: set[str] | None = None,
    target_group_deadline_seconds: float = 0.0,
    whole_cluster: bool = False,
) -> Reaped:
    """Remove this stack's executor tasks, target groups and rules older than ``older_than``.

    Only resources tagged with this stack are touched, and with ``older_than`` only those whose creation
    tag is older; ``older_than=None`` means any age, undated included (everything of the stack, e.g. before
    destroy). Sessions in ``keep`` are spared. Rules go first (they reference target groups), then target
    groups (each retried on ``ResourceInUse`` for ``target_group_deadline_seconds``), then tasks. A removal
    AWS refuses is recorded in ``failures`` and the sweep goes on; errors finding the resources are raised.
    ``whole_cluster`` also stops running tasks of the stack's cluster that carry no stack tag (the cluster is
    the stack's own; only before destroy).
    """
    keep = keep or set()
    cutoff = None if older_than is None else datetime.now(UTC) - older_than
    reaped = Reaped()

    def remove(kind: str, arn: str, removed: list[str], call: Callable[..., object], **kwargs: Any) -> None:
        try:
            call(**kwargs)
        except ClientError as error:
            detail = error.response.get("Error", {})
            reaped.failures.append(ReapFailure(kind, arn, detail.get("Code", "Error"), detail.get("Message", "")))
        else:
            removed.append(arn)

    def orphan(tags: dict[str, str]) -> bool:
        if tags.get(STACK_TAG) != settings.stack or tags.get(SESSION_TAG) in keep:
            return False
        return cutoff is None or created_before(tags, cutoff)

    found = session_resources(settings, ecs=ecs, elbv2=elbv2)
    for arn, tags in found["listener rule"].items():
        if orphan(tags):
            remove("listener rule", arn, reaped.rules, elbv2.delete_rule, RuleArn=arn)

    def delete_group(arn: str) -> None:
        delete_target_group(elbv2, arn, deadline_seconds=target_group_deadline_seconds)

    for arn, tags in found["target group"].items():
        if orphan(tags):
            remove("target group", arn, reaped.target_groups, lambda arn=arn: delete_group(arn))
    for arn, tags in found["task"].items():
        if orphan(tags) or (whole_cluster and STACK_TAG not in tags):
            remove(
                "task",
                arn,
                reaped.tasks,
                ecs.stop_task,
                cluster=settings.cluster_arn,
                task=arn,
                reason="reaped: orphaned session",
            )
    return reaped


def wait_until_stopped(
    settings: EcsSettings,
    *,
    ecs: Any,
    deadline_seconds: float = STOP_DEADLINE_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    whole_cluster: bool = False,
) -> list[str]:
    """Wait until every task of this stack in the cluster (running or stopping) reports ``lastStatus``
    STOPPED, when its network interface is gone; returns the ARNs still not stopped at the deadline.
    ``whole_cluster``: tasks without a stack tag count as the stack's too."""

    def ours(tasks: list[dict[str, Any]]) -> set[str]:
        return {
            t["taskArn"]
            for t in tasks
            if t.get("lastStatus") != "STOPPED"
            and (_task_tags(t).get(STACK_TAG) == settings.stack or (whole_cluster and STACK_TAG not in _task_tags(t)))
        }

    arns = _list_tasks(ecs, settings.cluster_arn, "RUNNING") + _list_tasks(ecs, settings.cluster_arn, "STOPPED")
    pending = ours(describe_tasks(ecs, settings.cluster_arn, arns))
    for pause in backoff(deadline_seconds, first=1.0, most=10.0):
        if not pending:
            break
        sleep(pause)
        # A task ECS no longer describes (failure reason MISSING) is long gone.
        pending = ours(describe_tasks(ecs, settings.cluster_arn, sorted(pending)))
    return sorted(pending)


def reap_stack(
    settings: EcsSettings,
    *,
    ecs: Any,
    elbv2: Any,
    stop_deadline_seconds: float = STOP_DEADLINE_SECONDS,
    target_group_deadline_seconds: float = TARGET_GROUP_DELETE_DEADLINE_SECONDS,
    whole_cluster: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> Reaped:
    """Everything of this stack, any age: its rules, target groups and tasks removed, then a bounded wait
    until its tasks have stopped, so their network interfaces no longer hold the executor security group
    and subnets (``pulumi destroy``); tasks still not stopped are listed in ``not_stopped``."""
    reaped = reap(
        settings,
        ecs=ecs,
        elbv2=elbv2,
        older_than=None,
        target_group_deadline_seconds=target_group_deadline_seconds,
        whole_cluster=whole_cluster,
    )
    reaped.not_stopped = wait_until_stopped(
        settings, ecs=ecs, deadline_seconds=stop_deadline_seconds, sleep=sleep, whole_cluster=whole_cluster
    )
    if reaped.failures:  # e.g. a target group whose rule was still being deleted: once more, now tasks are gone
        again = reap(
            settings, ecs=ecs, elbv2=elbv2, older_than=None, target_group_deadline_seconds=target_group_deadline_seconds
        )
        reaped.rules += again.rules
        reaped.target_groups += again.target_groups
        reaped.failures = again.failures
    return reaped
