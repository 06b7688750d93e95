"""Executor sessions: one code-executor per job session, reached over HTTP.

`EcsExecutorSession` (in AWS) starts a Fargate task for the session, gives it a target group of its
own and a listener rule matching ``X-Deep-Insight-Session: <routing key of the session id>``, waits until
the ALB finds it healthy, and on the way out (success, error or cancellation) runs every cleanup step even
when one fails: the caller's artifact upload, then the rule, the target group and the task. A failed step
is logged and reported to the job's stream, never raised: it neither fails a finished job nor hides the
job's own error (the reaper removes what is left). No fixed sleeps: every wait polls with backoff against
a deadline. An executor on this machine is
`executor_local.LocalExecutorSession`'s. The reaper is in `reaper`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from deep_insight_contract.environment import ExecutorEnv
from deep_insight_contract.session import ROUTING_HEADER, check_session_id, routing_key
from deep_insight_contract.tags import CREATED_FORMAT, CREATED_TAG, SESSION_TAG, STACK_TAG

from deep_insight_agent.aws_calls import (
    TARGET_GROUP_DELETE_DEADLINE_SECONDS,
    backoff,
    error_code,
    forwards_to,
    listener_rules,
    stopped_reason,
)
from deep_insight_agent.config import EcsSettings

log = logging.getLogger("deep_insight_agent.executor")

MAX_RULE_PRIORITY = 50000
STOPPING = ("STOPPED", "DEPROVISIONING", "STOPPING", "DEACTIVATING")

Notify = Callable[[str], None]
"""Puts a one-line notice on the job's event stream (a ``status`` event)."""


def _no_report(message: str) -> None:
    return None


def task_environment(session_id: str, token: str) -> list[dict[str, str]]:
    """The executor task's environment for one session (RunTask's container override). The token's digest,
    not the token: RunTask can pass only environment variables, and in the task the init process holds them,
    readable to the executor's uid, which user code shares (DescribeTasks shows them too)."""
    return [
        {"name": ExecutorEnv.SESSION_ID, "value": session_id},
        {"name": ExecutorEnv.TOKEN_SHA256, "value": hashlib.sha256(token.encode()).hexdigest()},
    ]


class CapacityError(RuntimeError):
    """The stack already runs executor.maxSessions sessions."""


class ExecutorStartError(RuntimeError):
    """The executor task or its route did not become ready; everything started was cleaned up."""


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
    return prefix + routing_key(session_id)[: 32 - len(prefix)]


@dataclass
class EcsExecutorSession:
    """``async with EcsExecutorSession(settings, sid, ecs=..., elbv2=...) as executor: ...``

    The session id must pass the contract's rule (`InvalidSessionId` before any AWS call).
    """

    settings: EcsSettings
    session_id: str
    ecs: Any
    elbv2: Any
    before_cleanup: Callable[[ExecutorSession], Awaitable[None]] | None = None
    """Runs first on the way out (the workflow uploads the artifacts here); its failure skips nothing."""
    report: Notify = _no_report
    task_deadline_seconds: float = 300.0
    health_deadline_seconds: float = 120.0
    target_group_delete_deadline_seconds: float = TARGET_GROUP_DELETE_DEADLINE_SECONDS
    task_arn: str | None = None
    target_group_arn: str | None = None
    rule_arn: str | None = None
    executor: ExecutorSession | None = None
    calls: list[str] = field(default_factory=list)
    cleanup_failures: list[str] = field(default_factory=list)
    """One line per cleanup step that failed (also logged and reported)."""

    def __post_init__(self) -> None:
        check_session_id(self.session_id)

    def _tags(self) -> dict[str, str]:
        return {
            STACK_TAG: self.settings.stack,
            SESSION_TAG: self.session_id,
            CREATED_TAG: datetime.now(UTC).strftime(CREATED_FORMAT),
        }

    def _record(self, client: Any, operation: str) -> None:
        # Recorded as IAM actions (elasticloadbalancing:CreateRule), which is what the role must allow.
        self.calls.append(f"{client.meta.service_model.signing_name}:{client.meta.method_to_api_mapping[operation]}")

    async def _aws(self, client: Any, operation: str, **kwargs: Any) -> Any:
        self._record(client, operation)
        return await asyncio.to_thread(getattr(client, operation), **kwargs)

    async def _rules(self) -> list[dict[str, Any]]:
        self._record(self.elbv2, "describe_rules")
        return await asyncio.to_thread(listener_rules, self.elbv2, self.settings.listener_arn)

    def _notify(self, message: str) -> None:
        try:
            self.report(message)
        except Exception:  # a broken stream must not stop a cleanup
            log.exception("could not report %r", message, extra={"session": self.session_id})

    async def __aenter__(self) -> ExecutorSession:
        try:
            await self._replace_earlier_attempt()
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
            {ROUTING_HEADER: routing_key(self.session_id), "Authorization": f"Bearer {token}"},
        )
        return self.executor

    async def __aexit__(self, *exc: object) -> None:
        # Shielded: a cancelled job still removes its task, target group and rule.
        await asyncio.shield(self._cleanup())

    async def _refuse_beyond_capacity(self) -> None:
        in_use = [r for r in await self._rules() if not r["IsDefault"]]
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
                        "environment": task_environment(self.session_id, token),
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
            if not described.get("tasks"):
                # Right after RunTask, DescribeTasks may not know the task yet: it is listed under failures
                # with reason MISSING. Not yet, then; any other reason is an error.
                reasons = [f.get("reason") for f in described.get("failures", [])]
                if any(reason != "MISSING" for reason in reasons):
                    raise ExecutorStartError(f"ecs:DescribeTasks failed: {described.get('failures')}")
                return None
            task = described["tasks"][0]
            if task["lastStatus"] in STOPPING:
                raise ExecutorStartError(f"the executor task stopped: {stopped_reason(task)}")
            if task["lastStatus"] != "RUNNING":
                return None
            for attachment in task.get("attachments", []):
                for detail in attachment.get("details", []):
                    if detail["name"] == "privateIPv4Address":
                        return detail["value"]
            return None

        return await poll(running_ip, what="the executor task running", deadline_seconds=self.task_deadline_seconds)

    def _target_group_name(self) -> str:
        return target_group_name(self.settings.target_group.name_prefix, self.session_id)

    async def _replace_earlier_attempt(self) -> None:
        """A target group of this name is left from an earlier attempt of this session (a crashed runtime,
        or a cleanup AWS refused). CreateTargetGroup would hand it back with its stale targets (or refuse with
        DuplicateTargetGroupName), so the ALB would also route to the old executor: remove it and its rules
        first. Only one job per session runs at a time (the app refuses a second), so it is not in use."""
        name = self._target_group_name()
        try:
            found = await self._aws(self.elbv2, "describe_target_groups", Names=[name])
        except ClientError as error:
            if error_code(error) == "TargetGroupNotFound":
                return
            raise
        for group in found["TargetGroups"]:
            arn = group["TargetGroupArn"]
            self._notify(f"removing target group {name} left by an earlier attempt of this session")
            log.warning("replacing stale target group %s", arn, extra={"session": self.session_id})
            for rule in await self._rules():
                if not rule["IsDefault"] and forwards_to(rule, arn):
                    await self._aws(self.elbv2, "delete_rule", RuleArn=rule["RuleArn"])
            await self._delete_target_group(arn)
            await self._stop_earlier_tasks()

    async def _stop_earlier_tasks(self) -> None:
        """The earlier attempt's executor task, pinned to this session id, would otherwise idle until its timeout."""
        cluster = self.settings.cluster_arn
        listed = await self._aws(
            self.ecs, "list_tasks", cluster=cluster, startedBy="deep-insight-agent", maxResults=100
        )
        arns = listed["taskArns"][:100]  # one page: the stack runs at most executor.maxSessions tasks
        if not arns:
            return
        described = await self._aws(self.ecs, "describe_tasks", cluster=cluster, tasks=arns, include=["TAGS"])
        for task in described["tasks"]:
            tags = {t["key"]: t["value"] for t in task.get("tags", [])}
            if tags.get(SESSION_TAG) == self.session_id and tags.get(STACK_TAG) == self.settings.stack:
                reason = "replaced by a new attempt of the session"
                await self._aws(self.ecs, "stop_task", cluster=cluster, task=task["taskArn"], reason=reason)

    async def _create_target_group(self, ip: str) -> None:
        t = self.settings.target_group
        created = await self._aws(
            self.elbv2,
            "create_target_group",
            Name=self._target_group_name(),
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
        # The ALB matches a header value of at most 128 characters, case-insensitively, with * and ? as
        # wildcards: it routes on the session id's routing key (64 lowercase hex digits), never the raw id.
        condition = {"HttpHeaderName": ROUTING_HEADER, "Values": [routing_key(self.session_id)]}
        for attempt in range(attempts):
            taken = {int(r["Priority"]) for r in await self._rules() if r["Priority"] != "default"}
            free = [p for p in range(1, MAX_RULE_PRIORITY + 1) if p not in taken][: max(1, attempt + 1) * 4]
            priority = random.choice(free)  # another session may pick the same: PriorityInUse, then retry
            try:
                created = await self._aws(
                    self.elbv2,
                    "create_rule",
                    ListenerArn=self.settings.listener_arn,
                    Priority=priority,
                    Conditions=[{"Field": "http-header", "HttpHeaderConfig": condition}],
                    Actions=[{"Type": "forward", "TargetGroupArn": self.target_group_arn}],
                    Tags=[{"Key": k, "Value": v} for k, v in self._tags().items()],
                )
            except ClientError as error:
                if error_code(error) != "PriorityInUse":
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

    async def _delete_target_group(self, arn: str) -> None:
        """Right after its rule is deleted, AWS may still answer ResourceInUse for a while: retried with
        jittered backoff until ``target_group_delete_deadline_seconds``, then AWS's error is raised."""
        for pause in backoff(self.target_group_delete_deadline_seconds):
            try:
                await self._aws(self.elbv2, "delete_target_group", TargetGroupArn=arn)
                return
            except ClientError as error:
                if error_code(error) != "ResourceInUse":
                    raise
                log.info("target group %s still in use, retrying", arn, extra={"session": self.session_id})
            await asyncio.sleep(pause)
        await self._aws(self.elbv2, "delete_target_group", TargetGroupArn=arn)

    async def _cleanup(self) -> None:
        async def step(name: str, action: Callable[[], Awaitable[Any]]) -> None:
            try:
                await action()
            except Exception as error:
                detail = f"{name}: {error}"
                self.cleanup_failures.append(detail)
                log.warning("cleanup step failed: %s", detail, extra={"session": self.session_id})
                self._notify(f"cleanup step failed, left for the reaper: {detail}")

        if self.executor is not None and self.before_cleanup is not None:
            executor, upload = self.executor, self.before_cleanup
            await step("artifacts", lambda: upload(executor))
        if self.rule_arn is not None:
            rule = self.rule_arn
            await step("rule", lambda: self._aws(self.elbv2, "delete_rule", RuleArn=rule))
        if self.target_group_arn is not None:
            group = self.target_group_arn
            await step("target group", lambda: self._delete_target_group(group))
        if self.task_arn is not None:
            task = self.task_arn
            await step(
                "task",
                lambda: self._aws(
                    self.ecs, "stop_task", cluster=self.settings.cluster_arn, task=task, reason="session ended"
                ),
            )
