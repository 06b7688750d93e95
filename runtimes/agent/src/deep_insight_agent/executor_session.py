"""Executor sessions: one code-executor per job session, reached over HTTP.

`EcsExecutorSession` (in AWS) starts a Fargate task for the session, gives it a target group of its
own and a listener rule matching ``X-Deep-Insight-Session: <session id>``, waits until the ALB finds it
healthy, and on the way out (success, error or cancellation) runs every cleanup step even when one
fails: the caller's artifact upload, then the rule, the target group and the task. No fixed sleeps:
every wait polls with backoff against a deadline. `LocalExecutorSession` talks to an executor started
by hand. `reap` removes what crashed runtimes left behind, found by their tags.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from deep_insight_agent.config import EcsSettings

log = logging.getLogger("deep_insight_agent.executor")

STACK_TAG = "deep-insight:stack"
SESSION_TAG = "deep-insight:session"
CREATED_TAG = "deep-insight:created"
CREATED_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
SESSION_HEADER = "X-Deep-Insight-Session"
MAX_RULE_PRIORITY = 50000


class CapacityError(RuntimeError):
    """The stack already runs executor.maxSessions sessions."""


class ExecutorStartError(RuntimeError):
    """The executor task or its route did not become ready; everything started was cleaned up."""


class CleanupError(RuntimeError):
    """One or more cleanup steps failed (each was still attempted); the reaper will retry them."""


@dataclass
class ExecutorSession:
    """Where and how to call the session's executor."""

    session_id: str
    base_url: str
    headers: dict[str, str]


async def poll(
    check: Callable[[], Awaitable[Any]], *, what: str, deadline_seconds: float, first: float = 0.25, most: float = 3.0
) -> Any:
    """Call ``check`` until it returns something truthy: exponential backoff with jitter, then a deadline."""
    deadline = time.monotonic() + deadline_seconds
    delay = first
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() + delay > deadline:
            raise ExecutorStartError(f"{what} did not happen within {deadline_seconds:g} s")
        await asyncio.sleep(delay * random.uniform(0.5, 1.0))
        delay = min(most, delay * 2)


def target_group_name(prefix: str, session_id: str) -> str:
    """A name unique to the session, within ALB's 32 characters."""
    return prefix + hashlib.sha256(session_id.encode()).hexdigest()[: 32 - len(prefix)]


@dataclass
class EcsExecutorSession:
    """``async with EcsExecutorSession(settings, sid, ecs=..., elbv2=...) as executor: ...``"""

    settings: EcsSettings
    session_id: str
    ecs: Any
    elbv2: Any
    before_cleanup: Callable[[ExecutorSession], Awaitable[None]] | None = None
    """Runs first on the way out (the workflow uploads the artifacts here); its failure skips nothing."""
    task_deadline_seconds: float = 300.0
    health_deadline_seconds: float = 120.0
    task_arn: str | None = None
    target_group_arn: str | None = None
    rule_arn: str | None = None
    executor: ExecutorSession | None = None
    calls: list[str] = field(default_factory=list)

    def _tags(self) -> dict[str, str]:
        return {
            STACK_TAG: self.settings.stack,
            SESSION_TAG: self.session_id,
            CREATED_TAG: datetime.now(UTC).strftime(CREATED_FORMAT),
        }

    async def _aws(self, client: Any, operation: str, **kwargs: Any) -> Any:
        # Recorded as IAM actions (elasticloadbalancing:CreateRule), which is what the role must allow.
        self.calls.append(f"{client.meta.service_model.signing_name}:{client.meta.method_to_api_mapping[operation]}")
        return await asyncio.to_thread(getattr(client, operation), **kwargs)

    async def __aenter__(self) -> ExecutorSession:
        try:
            await self._refuse_beyond_capacity()
            token = secrets.token_urlsafe(32)
            ip = await self._start_task(token)
            await self._create_target_group(ip)
            await self._create_rule()
            await self._wait_healthy()
        except BaseException:
            await asyncio.shield(self._cleanup())
            raise
        self.executor = ExecutorSession(
            self.session_id,
            f"http://{self.settings.alb_dns}",
            {SESSION_HEADER: self.session_id, "Authorization": f"Bearer {token}"},
        )
        return self.executor

    async def __aexit__(self, *exc: object) -> None:
        # Shielded: a cancelled job still removes its task, target group and rule.
        await asyncio.shield(self._cleanup())

    async def _refuse_beyond_capacity(self) -> None:
        rules = await self._aws(self.elbv2, "describe_rules", ListenerArn=self.settings.listener_arn)
        in_use = [r for r in rules["Rules"] if not r["IsDefault"]]
        if len(in_use) >= self.settings.max_sessions:
            raise CapacityError(
                f"{len(in_use)} executor sessions are running, the limit of this stack "
                f"(executor.maxSessions = {self.settings.max_sessions}); try again when one finishes"
            )

    async def _start_task(self, token: str) -> str:
        s = self.settings
        response = await self._aws(
            self.ecs,
            "run_task",
            cluster=s.cluster_arn,
            taskDefinition=s.task_definition_arn,
            launchType="FARGATE",
            count=1,
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": list(s.subnet_ids),
                    "securityGroups": [s.security_group_id],
                    "assignPublicIp": "DISABLED",
                }
            },
            overrides={
                "containerOverrides": [
                    {
                        "name": s.container,
                        "environment": [
                            {"name": "SESSION_ID", "value": self.session_id},
                            {"name": "EXECUTOR_TOKEN", "value": token},
                        ],
                    }
                ]
            },
            tags=[{"key": k, "value": v} for k, v in self._tags().items()],
            startedBy="deep-insight-agent",
        )
        if response.get("failures") or not response.get("tasks"):
            raise ExecutorStartError(f"ecs:RunTask failed: {response.get('failures')}")
        self.task_arn = response["tasks"][0]["taskArn"]

        async def running_ip() -> str | None:
            described = await self._aws(self.ecs, "describe_tasks", cluster=s.cluster_arn, tasks=[self.task_arn])
            task = described["tasks"][0]
            if task["lastStatus"] in ("STOPPED", "DEPROVISIONING", "STOPPING", "DEACTIVATING"):
                raise ExecutorStartError(f"the executor task stopped: {task.get('stoppedReason', task['lastStatus'])}")
            if task["lastStatus"] != "RUNNING":
                return None
            for attachment in task.get("attachments", []):
                for detail in attachment.get("details", []):
                    if detail["name"] == "privateIPv4Address":
                        return detail["value"]
            return None

        return await poll(running_ip, what="the executor task running", deadline_seconds=self.task_deadline_seconds)

    async def _create_target_group(self, ip: str) -> None:
        t = self.settings.target_group
        created = await self._aws(
            self.elbv2,
            "create_target_group",
            Name=target_group_name(t.name_prefix, self.session_id),
            Protocol=t.protocol,
            Port=t.port,
            VpcId=self.settings.vpc_id,
            TargetType=t.target_type,
            HealthCheckProtocol=t.protocol,
            HealthCheckPath=t.health_check_path,
            HealthCheckIntervalSeconds=t.health_check_interval_seconds,
            HealthCheckTimeoutSeconds=t.health_check_timeout_seconds,
            HealthyThresholdCount=t.healthy_threshold_count,
            UnhealthyThresholdCount=t.unhealthy_threshold_count,
            Matcher={"HttpCode": t.matcher},
            Tags=[{"Key": k, "Value": v} for k, v in self._tags().items()],
        )
        self.target_group_arn = created["TargetGroups"][0]["TargetGroupArn"]
        await self._aws(
            self.elbv2,
            "modify_target_group_attributes",
            TargetGroupArn=self.target_group_arn,
            Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": str(t.deregistration_delay_seconds)}],
        )
        await self._aws(
            self.elbv2, "register_targets", TargetGroupArn=self.target_group_arn, Targets=[{"Id": ip, "Port": t.port}]
        )

    async def _create_rule(self, attempts: int = 8) -> None:
        for attempt in range(attempts):
            rules = await self._aws(self.elbv2, "describe_rules", ListenerArn=self.settings.listener_arn)
            taken = {int(r["Priority"]) for r in rules["Rules"] if r["Priority"] != "default"}
            free = [p for p in range(1, MAX_RULE_PRIORITY + 1) if p not in taken][: max(1, attempt + 1) * 4]
            priority = random.choice(free)  # another session may pick the same: PriorityInUse, then retry
            try:
                created = await self._aws(
                    self.elbv2,
                    "create_rule",
                    ListenerArn=self.settings.listener_arn,
                    Priority=priority,
                    Conditions=[
                        {
                            "Field": "http-header",
                            "HttpHeaderConfig": {"HttpHeaderName": SESSION_HEADER, "Values": [self.session_id]},
                        }
                    ],
                    Actions=[{"Type": "forward", "TargetGroupArn": self.target_group_arn}],
                    Tags=[{"Key": k, "Value": v} for k, v in self._tags().items()],
                )
            except ClientError as error:
                if error.response["Error"]["Code"] != "PriorityInUse":
                    raise
                log.info("rule priority %s taken, retrying", priority, extra={"session": self.session_id})
                continue
            self.rule_arn = created["Rules"][0]["RuleArn"]
            return
        raise ExecutorStartError(f"no free listener-rule priority after {attempts} attempts")

    async def _wait_healthy(self) -> None:
        async def healthy() -> bool:
            health = await self._aws(self.elbv2, "describe_target_health", TargetGroupArn=self.target_group_arn)
            states = [d["TargetHealth"]["State"] for d in health["TargetHealthDescriptions"]]
            return bool(states) and all(state == "healthy" for state in states)

        await poll(healthy, what="the executor target healthy", deadline_seconds=self.health_deadline_seconds)

    async def _cleanup(self) -> None:
        failures: list[str] = []

        async def step(name: str, action: Callable[[], Awaitable[Any]]) -> None:
            try:
                await action()
            except Exception as error:
                failures.append(f"{name}: {error}")
                log.warning("cleanup step failed: %s: %s", name, error, extra={"session": self.session_id})

        if self.executor is not None and self.before_cleanup is not None:
            executor = self.executor
            await step("artifacts", lambda: self.before_cleanup(executor))  # type: ignore[misc]
        if self.rule_arn is not None:
            await step("rule", lambda: self._aws(self.elbv2, "delete_rule", RuleArn=self.rule_arn))
        if self.target_group_arn is not None:
            await step(
                "target group",
                lambda: self._aws(self.elbv2, "delete_target_group", TargetGroupArn=self.target_group_arn),
            )
        if self.task_arn is not None:
            await step(
                "task",
                lambda: self._aws(
                    self.ecs, "stop_task", cluster=self.settings.cluster_arn, task=self.task_arn, reason="session ended"
                ),
            )
        if failures:
            raise CleanupError("; ".join(failures))


@dataclass
class LocalExecutorSession:
    """An executor started by hand (development, tests): nothing to start or clean up but the session."""

    url: str
    session_id: str
    token: str | None = None

    async def __aenter__(self) -> ExecutorSession:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return ExecutorSession(self.session_id, self.url.rstrip("/"), headers)

    async def __aexit__(self, *exc: object) -> None:
        return None


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


def created_before(tags: Mapping[str, str], cutoff: datetime) -> bool:
    """Whether a session resource's ``deep-insight:created`` tag is older than ``cutoff``; undated is not."""
    try:
        return datetime.strptime(tags.get(CREATED_TAG, ""), CREATED_FORMAT).replace(tzinfo=UTC) < cutoff
    except ValueError:
        return False


SessionResources = dict[str, dict[str, dict[str, str]]]
"""kind (``listener rule``, ``target group``, ``task``) → ARN → tags."""


def session_resources(settings: EcsSettings, *, ecs: Any, elbv2: Any) -> SessionResources:
    """Every resource a session may leave behind, with its tags: the listener's non-default rules, the target
    groups named with the stack's prefix, and the cluster's running tasks (the reaper and `verify` read this)."""

    def elb_tags(arns: list[str]) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        for start in range(0, len(arns), 20):  # DescribeTags takes 20 ARNs at a time
            for description in elbv2.describe_tags(ResourceArns=arns[start : start + 20])["TagDescriptions"]:
                found[description["ResourceArn"]] = {t["Key"]: t["Value"] for t in description.get("Tags", [])}
        return found

    rules = [
        r["RuleArn"] for r in elbv2.describe_rules(ListenerArn=settings.listener_arn)["Rules"] if not r["IsDefault"]
    ]
    prefix = settings.target_group.name_prefix
    groups = [
        g["TargetGroupArn"]
        for page in elbv2.get_paginator("describe_target_groups").paginate()
        for g in page["TargetGroups"]
        if g["TargetGroupName"].startswith(prefix)
    ]
    task_arns = [
        arn
        for page in ecs.get_paginator("list_tasks").paginate(cluster=settings.cluster_arn, desiredStatus="RUNNING")
        for arn in page["taskArns"]
    ]
    tasks: dict[str, dict[str, str]] = {}
    for start in range(0, len(task_arns), 100):  # DescribeTasks takes 100 at a time
        described = ecs.describe_tasks(
            cluster=settings.cluster_arn, tasks=task_arns[start : start + 100], include=["TAGS"]
        )
        for task in described["tasks"]:
            tasks[task["taskArn"]] = {t["key"]: t["value"] for t in task.get("tags", [])}
    return {"listener rule": elb_tags(rules), "target group": elb_tags(groups), "task": tasks}


# Past its session timeout an executor ends itself, so nothing of a live session is older than that
# timeout plus the time to start a task and the clock skew between machines.
ORPHAN_MARGIN = timedelta(minutes=10)


def orphan_age(settings: EcsSettings) -> timedelta:
    """The age past which a session's task, target group and rule can only be left over.

    A fixed 30 minutes (the first version) would have reaped a live session of a long job.
    """
    return timedelta(seconds=settings.executor_session_timeout_seconds) + ORPHAN_MARGIN


def reap(settings: EcsSettings, *, ecs: Any, elbv2: Any, older_than: timedelta, keep: set[str] | None = None) -> Reaped:
    """Remove this stack's executor tasks, target groups and rules older than ``older_than``.

    Only resources tagged with this stack and a creation time are touched; sessions in ``keep`` are
    spared. Rules go first (they reference target groups), then target groups, then tasks. A removal
    AWS refuses (AccessDenied, or ResourceInUse for a target group whose rule stayed) is recorded in
    ``failures`` and the sweep goes on; errors finding the resources are raised.
    """
    keep = keep or set()
    cutoff = datetime.now(UTC) - older_than
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
        return (
            tags.get(STACK_TAG) == settings.stack and tags.get(SESSION_TAG) not in keep and created_before(tags, cutoff)
        )

    found = session_resources(settings, ecs=ecs, elbv2=elbv2)
    for arn, tags in found["listener rule"].items():
        if orphan(tags):
            remove("listener rule", arn, reaped.rules, elbv2.delete_rule, RuleArn=arn)
    for arn, tags in found["target group"].items():
        if orphan(tags):
            remove("target group", arn, reaped.target_groups, elbv2.delete_target_group, TargetGroupArn=arn)
    for arn, tags in found["task"].items():
        if orphan(tags):
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
