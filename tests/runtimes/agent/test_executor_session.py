"""The ECS/ALB executor backend and the reaper against a real moto server on 127.0.0.1 (ECS, ELBv2, EC2)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import botocore.session
import deep_insight_agent.__main__ as agent_main
import pandas as pd
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from deep_insight_agent.aws_calls import listener_rules, stopped_reason
from deep_insight_agent.config import ConfigError, EcsSettings, Env
from deep_insight_agent.events import guarded, validate_stream
from deep_insight_agent.executor_client import ExecutorClient
from deep_insight_agent.executor_session import (
    CapacityError,
    EcsExecutorSession,
    ExecutorSession,
    ExecutorStartError,
    Notify,
    target_group_name,
)
from deep_insight_agent.payload import Invocation
from deep_insight_agent.reaper import orphan_age, reap
from deep_insight_agent.report import ReportFontError, find_font
from deep_insight_agent.scripted import ScriptedModel
from deep_insight_agent.workflow import WorkflowDeps, run_job
from deep_insight_contract.executor import EXIT_UNWRITABLE
from deep_insight_contract.session import ROUTING_HEADER, InvalidSessionId, routing_key
from deep_insight_contract.target_group import SessionTargetGroupTemplate

from components.iam import run_task_statements, session_routing_statements
from tests.moto_server import executor_network, hold_ecs_tasks, moto_server
from tests.runtimes.agent.test_workflow import scripts  # the reference job's scripted turns
from tests.runtimes.conftest import DATA, TOKEN

SESSION = "session-0123456789abcdef0123456789abcdef"  # AgentCore session ids are 33-256 characters
# What the runtime's execution role grants for executor sessions (components/iam.py).
GRANTED_ACTIONS = {
    action
    for statement in run_task_statements(
        partition="aws", region="us-east-1", account_id="123456789012",
        cluster_arn="arn:aws:ecs:us-east-1:123456789012:cluster/c", task_family="f", role_arns=("r1", "r2"),
    ) + session_routing_statements(
        listener_arn="arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/a/1/2", stack="test",
        target_group_prefix="di-test-",
    )
    for action in statement["Action"]
}  # fmt: skip


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        hold_ecs_tasks(url)
        yield url


@pytest.fixture(scope="module")
def clients(endpoint):
    kwargs = {
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "t",
        "aws_secret_access_key": "t",
    }
    return {name: boto3.client(name, **kwargs) for name in ("ec2", "ecs", "elbv2")}


@pytest.fixture(scope="module")
def stack(clients) -> EcsSettings:
    """A deployed stack as the Pulumi program leaves it, reduced to what the backend touches."""
    net = executor_network(
        clients["ec2"],
        clients["ecs"],
        clients["elbv2"],
        cluster_name="deep-insight-test",
        family="deep-insight-test-executor",
    )
    return EcsSettings(
        region="us-east-1",
        stack="test",
        cluster_arn=net.cluster_arn,
        task_definition_arn=net.task_definition_arn,
        container="executor",
        subnet_ids=net.subnet_ids,
        security_group_id=net.security_group_id,
        vpc_id=net.vpc_id,
        listener_arn=net.listener_arn,
        alb_dns=net.alb_dns,
        max_sessions=5,
        target_group=SessionTargetGroupTemplate(name_prefix="di-test-"),
        executor_session_timeout_seconds=3600,
        artifact_bucket="bucket",
    )


def leftovers(clients, stack: EcsSettings) -> dict[str, list]:
    elbv2, ecs = clients["elbv2"], clients["ecs"]
    rules = [r["RuleArn"] for r in listener_rules(elbv2, stack.listener_arn) if not r["IsDefault"]]
    groups = [g["TargetGroupName"] for g in elbv2.describe_target_groups()["TargetGroups"]]
    running = ecs.list_tasks(cluster=stack.cluster_arn, desiredStatus="RUNNING")["taskArns"]
    return {"rules": rules, "target_groups": groups, "tasks": running}


NOTHING = {"rules": [], "target_groups": [], "tasks": []}


def session(clients, stack, sid=SESSION, **kwargs) -> EcsExecutorSession:
    return EcsExecutorSession(stack, sid, ecs=clients["ecs"], elbv2=clients["elbv2"], **kwargs)


def test_a_session_starts_routes_and_cleans_up(clients, stack):
    backend = session(clients, stack)

    async def job() -> None:
        async with backend as executor:
            assert executor.base_url == f"http://{stack.alb_dns}"
            assert executor.headers[ROUTING_HEADER] == routing_key(SESSION)
            assert executor.headers["Authorization"].startswith("Bearer ")
            ecs, elbv2 = clients["ecs"], clients["elbv2"]
            (task,) = ecs.describe_tasks(cluster=stack.cluster_arn, tasks=[backend.task_arn], include=["TAGS"])["tasks"]
            tags = {t["key"]: t["value"] for t in task["tags"]}
            assert tags["deep-insight:stack"] == "test"
            assert tags["deep-insight:session"] == SESSION
            assert tags["deep-insight:created"].endswith("Z")
            environment = {e["name"]: e["value"] for e in task["overrides"]["containerOverrides"][0]["environment"]}
            assert environment["SESSION_ID"] == SESSION
            assert environment["EXECUTOR_TOKEN"] == executor.headers["Authorization"].removeprefix("Bearer ")
            (group,) = elbv2.describe_target_groups(TargetGroupArns=[backend.target_group_arn])["TargetGroups"]
            assert group["TargetGroupName"] == target_group_name("di-test-", SESSION)
            assert len(group["TargetGroupName"]) <= 32
            assert (group["TargetType"], group["Port"], group["HealthCheckPath"]) == ("ip", 8080, "/health")
            assert (group["HealthCheckIntervalSeconds"], group["HealthyThresholdCount"]) == (5, 2)
            attributes = elbv2.describe_target_group_attributes(TargetGroupArn=backend.target_group_arn)["Attributes"]
            assert {"Key": "deregistration_delay.timeout_seconds", "Value": "5"} in attributes
            (rule,) = [r for r in elbv2.describe_rules(ListenerArn=stack.listener_arn)["Rules"] if not r["IsDefault"]]
            assert rule["Conditions"][0]["HttpHeaderConfig"] == {
                "HttpHeaderName": "X-Deep-Insight-Session",
                "Values": [routing_key(SESSION)],
            }
            assert rule["Actions"][0]["TargetGroupArn"] == backend.target_group_arn

    asyncio.run(job())
    assert backend.calls == [
        "elasticloadbalancing:DescribeTargetGroups",  # none left from an earlier attempt
        "elasticloadbalancing:DescribeRules",
        "ecs:RunTask",
        "ecs:DescribeTasks",
        "elasticloadbalancing:CreateTargetGroup",
        "elasticloadbalancing:ModifyTargetGroupAttributes",
        "elasticloadbalancing:RegisterTargets",
        "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:CreateRule",
        "elasticloadbalancing:DescribeTargetHealth",
        "elasticloadbalancing:DeleteRule",
        "elasticloadbalancing:DeleteTargetGroup",
        "ecs:StopTask",
    ]
    # Every call is one the runtime's execution role grants (components/iam.py).
    assert set(backend.calls) <= GRANTED_ACTIONS
    assert leftovers(clients, stack) == NOTHING


def test_an_exception_in_the_job_still_cleans_up(clients, stack):
    async def job() -> None:
        async with session(clients, stack):
            raise RuntimeError("the model gave up")

    with pytest.raises(RuntimeError, match="the model gave up"):
        asyncio.run(job())
    assert leftovers(clients, stack) == NOTHING


def test_a_cancelled_job_still_cleans_up(clients, stack):
    async def job() -> None:
        async with session(clients, stack):
            await asyncio.sleep(3600)

    async def cancel_it() -> None:
        task = asyncio.create_task(job())
        await asyncio.sleep(1.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_it())
    assert leftovers(clients, stack) == NOTHING


class FailingElb:
    """The real client, except that the named operations fail once."""

    def __init__(self, real, *failing: str) -> None:
        self._real = real
        self._failing = set(failing)
        self.meta = real.meta

    def __getattr__(self, name: str):
        attribute = getattr(self._real, name)
        if name in self._failing:
            self._failing.discard(name)

            def fail(**kwargs):
                raise ClientError({"Error": {"Code": "Throttling", "Message": "injected"}}, name)

            return fail
        return attribute


def test_a_failing_cleanup_step_skips_none_of_the_others_and_is_reported_not_raised(clients, stack):
    async def upload_fails(executor) -> None:
        raise OSError("artifact upload failed")

    reported: list[str] = []
    backend = EcsExecutorSession(
        stack,
        SESSION,
        ecs=clients["ecs"],
        elbv2=FailingElb(clients["elbv2"], "delete_rule"),
        before_cleanup=upload_fails,
        report=reported.append,
        target_group_delete_deadline_seconds=1.0,
    )

    async def job() -> None:
        async with backend:
            pass

    asyncio.run(job())  # a finished job stays finished
    failures = backend.cleanup_failures
    assert failures[0] == "artifacts: artifact upload failed"
    assert failures[1].startswith("rule: ")
    assert "Throttling" in failures[1]
    # The target group is still referenced by the rule, so AWS refuses its deletion too (ResourceInUse,
    # retried until the deadline); the task, whose step comes last, is stopped all the same.
    assert failures[2].startswith("target group: ")
    assert "ResourceInUse" in failures[2]
    assert len(failures) == 3
    assert reported == [f"cleanup step failed, left for the reaper: {f}" for f in failures]
    left = leftovers(clients, stack)
    assert left["tasks"] == []
    assert (len(left["rules"]), len(left["target_groups"])) == (1, 1)
    # Both are found by their tags and removed by the reaper, rule first.
    reaped = reap(stack, ecs=clients["ecs"], elbv2=clients["elbv2"], older_than=timedelta(seconds=-60))
    assert reaped.rules == left["rules"]
    assert len(reaped.target_groups) == 1
    assert leftovers(clients, stack) == NOTHING


def test_the_jobs_own_error_is_not_hidden_by_a_failing_cleanup(clients, stack):
    backend = EcsExecutorSession(
        stack, SESSION, ecs=clients["ecs"], elbv2=FailingElb(clients["elbv2"], "delete_rule"),
        target_group_delete_deadline_seconds=0,
    )  # fmt: skip

    async def job() -> None:
        async with backend:
            raise RuntimeError("the model gave up")

    with pytest.raises(RuntimeError, match="the model gave up"):
        asyncio.run(job())
    assert [f.split(":")[0] for f in backend.cleanup_failures] == ["rule", "target group"]
    reap(stack, ecs=clients["ecs"], elbv2=clients["elbv2"], older_than=None)
    assert leftovers(clients, stack) == NOTHING


def test_priority_collision_is_retried(clients, stack):
    real = clients["elbv2"]
    stolen: list[str] = []

    class Racing(FailingElb):
        def __getattr__(self, name: str):
            attribute = getattr(self._real, name)
            if name != "create_rule" or stolen:
                return attribute

            def race(**kwargs):
                # Another session takes the same priority a moment before this one.
                other = real.create_target_group(
                    Name="di-test-other", Protocol="HTTP", Port=8080, VpcId=stack.vpc_id, TargetType="ip"
                )
                rule = real.create_rule(
                    ListenerArn=kwargs["ListenerArn"],
                    Priority=kwargs["Priority"],
                    Conditions=[
                        {
                            "Field": "http-header",
                            "HttpHeaderConfig": {"HttpHeaderName": ROUTING_HEADER, "Values": ["other"]},
                        }
                    ],
                    Actions=[{"Type": "forward", "TargetGroupArn": other["TargetGroups"][0]["TargetGroupArn"]}],
                )
                stolen.extend([rule["Rules"][0]["RuleArn"], other["TargetGroups"][0]["TargetGroupArn"]])
                return attribute(**kwargs)

            return race

    backend = EcsExecutorSession(stack, SESSION, ecs=clients["ecs"], elbv2=Racing(real))

    async def job() -> None:
        async with backend:
            assert backend.calls.count("elasticloadbalancing:CreateRule") == 2

    asyncio.run(job())
    real.delete_rule(RuleArn=stolen[0])
    real.delete_target_group(TargetGroupArn=stolen[1])
    assert leftovers(clients, stack) == NOTHING


def test_sessions_beyond_max_sessions_are_refused(clients, stack):
    small = replace(stack, max_sessions=1)

    async def two() -> None:
        async with session(clients, small, "first-session-0123456789abcdef0123"):
            second = session(clients, small, "second-session-0123456789abcdef012")
            with pytest.raises(CapacityError, match=r"executor\.maxSessions = 1"):
                async with second:
                    pass
            # nothing started
            assert second.calls == ["elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeRules"]

    asyncio.run(two())
    assert leftovers(clients, stack) == NOTHING


def test_a_task_that_never_runs_ends_in_a_clear_error_and_no_leftovers(clients, stack):
    backend = session(
        clients, replace(stack, task_definition_arn="arn:aws:ecs:us-east-1:123456789012:task-definition/missing:1")
    )

    async def job() -> None:
        async with backend:
            pass

    with pytest.raises((ExecutorStartError, ClientError)):
        asyncio.run(job())
    assert leftovers(clients, stack) == NOTHING


def leave_orphan(clients, stack: EcsSettings, stack_name: str, sid: str, created: str, *, task: bool = True) -> str:
    """What a crashed runtime leaves behind: a tagged target group, header rule and task; returns the rule."""
    ecs, elbv2 = clients["ecs"], clients["elbv2"]
    tags = {"deep-insight:stack": stack_name, "deep-insight:session": sid, "deep-insight:created": created}
    group = elbv2.create_target_group(
        Name=target_group_name("di-test-", sid), Protocol="HTTP", Port=8080, VpcId=stack.vpc_id, TargetType="ip",
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )["TargetGroups"][0]["TargetGroupArn"]  # fmt: skip
    taken = {r["Priority"] for r in listener_rules(elbv2, stack.listener_arn)}  # every page
    priority = next(p for p in range(1, 100) if str(p) not in taken)
    rule = elbv2.create_rule(
        ListenerArn=stack.listener_arn, Priority=priority,
        Conditions=[{"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": ROUTING_HEADER, "Values": [routing_key(sid)]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": group}],
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )["Rules"][0]["RuleArn"]  # fmt: skip
    if not task:
        return rule
    ecs.run_task(
        cluster=stack.cluster_arn, taskDefinition=stack.task_definition_arn, launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": list(stack.subnet_ids), "securityGroups": [stack.security_group_id]}},
        tags=[{"key": k, "value": v} for k, v in tags.items()], startedBy="deep-insight-agent",
    )  # fmt: skip
    return rule


def test_reaper_removes_only_old_orphans_of_this_stack(clients, stack):
    ecs, elbv2 = clients["ecs"], clients["elbv2"]
    leave_orphan(clients, stack, "test", "old-session", "2026-01-01T00:00:00Z")
    leave_orphan(clients, stack, "test", "fresh-session", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    leave_orphan(clients, stack, "other-stack", "their-session", "2026-01-01T00:00:00Z")
    reaped = reap(stack, ecs=ecs, elbv2=elbv2, older_than=timedelta(minutes=30))
    assert (len(reaped.rules), len(reaped.target_groups), len(reaped.tasks)) == (1, 1, 1)
    assert reaped.failures == []
    left = leftovers(clients, stack)
    assert len(left["rules"]) == 2
    assert len(left["tasks"]) == 2
    assert target_group_name("di-test-", "old-session") not in left["target_groups"]
    # Clean the survivors so later tests start from nothing.
    reap(stack, ecs=ecs, elbv2=elbv2, older_than=timedelta(days=-1))
    reap(replace(stack, stack="other-stack"), ecs=ecs, elbv2=elbv2, older_than=timedelta(minutes=30))
    assert leftovers(clients, stack) == NOTHING


class RefusingElb:
    """The real client, except that deleting the given rules is AccessDenied (a role without the permission)."""

    def __init__(self, real, *refused_rules: str) -> None:
        self._real = real
        self._refused = set(refused_rules)

    def __getattr__(self, name: str):
        return getattr(self._real, name)

    def delete_rule(self, **kwargs):
        if kwargs["RuleArn"] in self._refused:
            error = {"Code": "AccessDenied", "Message": "not authorized to perform: elasticloadbalancing:DeleteRule"}
            raise ClientError({"Error": error}, "DeleteRule")
        return self._real.delete_rule(**kwargs)


def test_a_refused_removal_is_recorded_and_the_sweep_goes_on(clients, stack):
    ecs, elbv2 = clients["ecs"], clients["elbv2"]
    refused = leave_orphan(clients, stack, "test", "refused-session", "2026-01-01T00:00:00Z")
    leave_orphan(clients, stack, "test", "removable-session", "2026-01-01T00:00:00Z")
    reaped = reap(stack, ecs=ecs, elbv2=RefusingElb(elbv2, refused), older_than=timedelta(minutes=30))
    assert [(f.kind, f.arn, f.code) for f in reaped.failures[:1]] == [("listener rule", refused, "AccessDenied")]
    assert "DeleteRule" in reaped.failures[0].message
    # The refused rule still forwards to its target group, so AWS refuses that deletion too.
    assert [(f.kind, f.code) for f in reaped.failures[1:]] == [("target group", "ResourceInUse")]
    assert target_group_name("di-test-", "refused-session") in reaped.failures[1].arn
    # Everything else was still removed: the other session's rule and group, and both tasks.
    assert (len(reaped.rules), len(reaped.target_groups), len(reaped.tasks)) == (1, 1, 2)
    left = leftovers(clients, stack)
    assert left["rules"] == [refused]
    assert left["target_groups"] == [target_group_name("di-test-", "refused-session")]
    assert left["tasks"] == []
    # Allowed again, the next sweep removes them.
    again = reap(stack, ecs=ecs, elbv2=elbv2, older_than=timedelta(minutes=30))
    assert (again.rules, len(again.target_groups), again.failures) == ([refused], 1, [])
    assert leftovers(clients, stack) == NOTHING


def test_a_live_session_is_never_old_enough_to_reap(stack):
    # A session may run as long as its executor's timeout; only what outlives that is an orphan.
    for timeout in (300, 3600, 28800):
        settings = replace(stack, executor_session_timeout_seconds=timeout)
        assert orphan_age(settings) > timedelta(seconds=timeout)
        assert orphan_age(settings) <= timedelta(seconds=timeout, minutes=15)


def test_missing_environment_is_named_in_one_line():
    with pytest.raises(ConfigError) as missing:
        EcsSettings.from_env({"AWS_REGION": "us-east-1"})
    message = str(missing.value)
    assert "\n" not in message
    assert "DEEP_INSIGHT_CLUSTER_ARN" in message
    assert "DEEP_INSIGHT_LISTENER_ARN" in message


# --- AWS's eventual consistency, reproduced against moto through botocore's own event hooks --------------


class EventuallyConsistent:
    """Fresh clients of the moto server whose first calls answer the way AWS does right after a change:
    ``DeleteTargetGroup`` right after ``DeleteRule`` is ``ResourceInUse`` (a 400, ``Sender`` fault, AWS's
    message) for the first ``in_use`` calls, and ``DescribeTasks`` right after ``RunTask`` lists the task
    under ``failures`` with reason ``MISSING`` and no ``tasks`` (ECS's eventual consistency), once."""

    def __init__(self, endpoint: str, *, in_use: int, missing: int = 1) -> None:
        kwargs = {"endpoint_url": endpoint, "region_name": "us-east-1", "aws_access_key_id": "t",
                  "aws_secret_access_key": "t"}  # fmt: skip
        self.ecs, self.elbv2 = boto3.client("ecs", **kwargs), boto3.client("elbv2", **kwargs)
        self.in_use, self.missing = in_use, missing
        self.injected: list[str] = []
        self.elbv2.meta.events.register("before-call.elastic-load-balancing-v2.DeleteTargetGroup", self._in_use)
        self.ecs.meta.events.register("before-call.ecs.DescribeTasks", self._missing)

    def _in_use(self, params, **kwargs):
        if self.in_use <= 0:
            return None
        self.in_use -= 1
        arn = params["body"]["TargetGroupArn"]
        self.injected.append("ResourceInUse")
        error = {"Type": "Sender", "Code": "ResourceInUse",
                 "Message": f"Target group '{arn}' is currently in use by a listener or a rule"}  # fmt: skip
        return AWSResponse(params["url"], 400, {}, None), {
            "Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}
        }  # fmt: skip

    def _missing(self, params, **kwargs):
        body = json.loads(params["body"])
        if self.missing <= 0 or "include" in body:  # the session's own polls, not the reaper's
            return None
        self.missing -= 1
        self.injected.append("MISSING")
        failures = [{"arn": arn, "reason": "MISSING"} for arn in body["tasks"]]
        return AWSResponse(params["url"], 200, {}, None), {
            "tasks": [], "failures": failures, "ResponseMetadata": {"HTTPStatusCode": 200}
        }  # fmt: skip


def test_elb_and_ecs_eventual_consistency_do_not_fail_a_session(endpoint, clients, stack):
    aws = EventuallyConsistent(endpoint, in_use=3)
    reported: list[str] = []
    backend = EcsExecutorSession(
        stack, SESSION, ecs=aws.ecs, elbv2=aws.elbv2, report=reported.append, target_group_delete_deadline_seconds=20
    )

    async def job() -> None:
        async with backend as executor:
            assert executor.headers[ROUTING_HEADER] == routing_key(SESSION)

    asyncio.run(job())
    assert aws.injected == ["MISSING", "ResourceInUse", "ResourceInUse", "ResourceInUse"]
    assert backend.calls.count("ecs:DescribeTasks") >= 2
    assert backend.calls.count("elasticloadbalancing:DeleteTargetGroup") == 4
    assert backend.cleanup_failures == []
    assert reported == []
    assert leftovers(clients, stack) == NOTHING


def test_a_target_group_in_use_past_the_deadline_is_reported_and_left_for_the_reaper(endpoint, clients, stack):
    aws = EventuallyConsistent(endpoint, in_use=1000, missing=0)
    reported: list[str] = []
    backend = EcsExecutorSession(
        stack, SESSION, ecs=aws.ecs, elbv2=aws.elbv2, report=reported.append, target_group_delete_deadline_seconds=2
    )

    async def job() -> None:
        async with backend:
            pass

    started = time.monotonic()
    asyncio.run(job())
    assert time.monotonic() - started < 10
    assert 2 <= backend.calls.count("elasticloadbalancing:DeleteTargetGroup") <= 5  # bounded, with backoff
    (failure,) = backend.cleanup_failures
    assert failure.startswith("target group: An error occurred (ResourceInUse)")
    assert "is currently in use by a listener or a rule" in failure
    assert reported == [f"cleanup step failed, left for the reaper: {failure}"]
    left = leftovers(clients, stack)
    assert (left["rules"], len(left["target_groups"]), left["tasks"]) == ([], 1, [])
    reap(stack, ecs=clients["ecs"], elbv2=clients["elbv2"], older_than=None)
    assert leftovers(clients, stack) == NOTHING


@pytest.fixture
def report_font(monkeypatch) -> None:
    """The image's Korean font, or (on a machine without fonts-nanum) any TrueType font: the PDFs are not
    the subject here, the job reaching its end is."""
    try:
        find_font()
    except ReportFontError:
        fallback = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
        if not fallback.exists():
            pytest.skip("no TrueType font to render the reports with")
        monkeypatch.setenv("DEEP_INSIGHT_REPORT_FONT", str(fallback))


@pytest.mark.usefixtures("report_font")
def test_the_whole_job_completes_through_ecs_and_elb_eventual_consistency(endpoint, clients, stack, executor):
    """The real workflow (scripted models, a real executor) on the real EcsExecutorSession against moto.
    moto has no ALB data plane, so the job reaches the local executor with the session's routing header."""
    categories = list(pd.read_csv(DATA)["카테고리"].unique())
    models = {name: ScriptedModel(turns) for name, turns in scripts(categories).items()}
    aws = EventuallyConsistent(endpoint, in_use=2)
    sessions: list[EcsExecutorSession] = []

    @asynccontextmanager
    async def open_executor(session_id: str, report: Notify):
        backend = EcsExecutorSession(
            stack, session_id, ecs=aws.ecs, elbv2=aws.elbv2, report=report, target_group_delete_deadline_seconds=20
        )
        sessions.append(backend)
        async with backend as routed:
            local = ExecutorSession(session_id, executor.url, {**routed.headers, "Authorization": f"Bearer {TOKEN}"})
            async with ExecutorClient(local) as client:
                await client.put_file("data/fresh-food-sales.csv", DATA.read_bytes())
            yield local

    deps = WorkflowDeps(model_for=models.__getitem__, open_executor=open_executor, artifact_bucket=None)
    invocation = Invocation(prompt="카테고리별 매출을 분석해줘", data=(), language="ko")

    async def collect() -> list[dict]:
        return [e async for e in guarded(run_job(invocation, SESSION, deps), SESSION, keepalive_after=5)]

    events = asyncio.run(collect())
    assert validate_stream(events) == []
    assert events[-1]["type"] == "complete", events[-1]
    assert aws.injected == ["MISSING", "ResourceInUse", "ResourceInUse"]
    assert sessions[0].cleanup_failures == []
    assert leftovers(clients, stack) == NOTHING


def test_a_failed_cleanup_is_a_status_event_of_the_job_and_the_jobs_error_stays_the_error(
    endpoint, clients, stack, executor
):
    aws = EventuallyConsistent(endpoint, in_use=1000, missing=0)

    @asynccontextmanager
    async def open_executor(session_id: str, report: Notify):
        backend = EcsExecutorSession(
            stack, session_id, ecs=aws.ecs, elbv2=aws.elbv2, report=report, target_group_delete_deadline_seconds=0
        )
        async with backend:
            yield ExecutorSession(session_id, executor.url, {"Authorization": f"Bearer {TOKEN}"})

    def job(models: dict) -> list[dict]:
        deps = WorkflowDeps(model_for=models.__getitem__, open_executor=open_executor, artifact_bucket=None)
        invocation = Invocation(prompt="q", data=(), language="en")

        async def collect() -> list[dict]:
            return [e async for e in guarded(run_job(invocation, SESSION, deps), SESSION, keepalive_after=5)]

        return asyncio.run(collect())

    failing = job({"planner": ScriptedModel([])})  # the planner's model has nothing to say: the job fails
    assert validate_stream(failing) == []
    status, error = failing[-2:]
    assert status["type"] == "status"
    assert status["phase"].startswith("cleanup step failed, left for the reaper: target group: ")
    assert error["type"] == "error"
    assert "ResourceInUse" not in error["message"]
    reap(stack, ecs=clients["ecs"], elbv2=clients["elbv2"], older_than=None)
    assert leftovers(clients, stack) == NOTHING


# --- session ids and routing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "session_id",
    [
        "session-with-a-wildcard-*-0123456789abcdef",  # * and ? are ALB header wildcards
        "session-with-a-question-mark?-0123456789abcd",
        "세션-0123456789abcdef0123456789abcdef0123",  # not ASCII: not an ELB/ECS tag value everywhere
        "session with spaces 0123456789abcdef0123456",
        "x" * 257,
        "-leading-dash-0123456789abcdef0123456789ab",
        "trailing-newline-0123456789abcdef0123456789\n",
    ],
)
def test_an_id_outside_the_rule_is_refused_before_any_aws_call(session_id):
    class NoAws:
        def __getattr__(self, name: str):
            raise AssertionError(f"AWS called: {name}")

    with pytest.raises(InvalidSessionId, match="is not accepted; use 1-256 characters"):
        EcsExecutorSession(replace_stack(), session_id, ecs=NoAws(), elbv2=NoAws())


def replace_stack() -> EcsSettings:
    template = SessionTargetGroupTemplate(name_prefix="di-test-")
    return EcsSettings(
        region="us-east-1", stack="test", cluster_arn="c", task_definition_arn="t", container="executor",
        subnet_ids=("s",), security_group_id="sg", vpc_id="v", listener_arn="l", alb_dns="d", max_sessions=1,
        target_group=template, executor_session_timeout_seconds=3600, artifact_bucket="b",
    )  # fmt: skip


def test_case_twins_and_long_ids_get_routes_of_their_own(clients, stack):
    # The ALB matches header values case-insensitively and only up to 128 characters: raw ids would make
    # these twins share a route, and the 200-character id would not fit.
    upper, lower = "Session-ABCDEF-0123456789abcdef0123456789", "session-abcdef-0123456789abcdef0123456789"
    long_id = "long-" + "0123456789" * 19 + "abcde"
    assert len(long_id) == 200
    backends = [session(clients, stack, sid) for sid in (upper, lower, long_id)]

    async def three() -> None:
        async with backends[0], backends[1], backends[2]:
            rules = [r for r in listener_rules(clients["elbv2"], stack.listener_arn) if not r["IsDefault"]]
            values = {
                r["Conditions"][0]["HttpHeaderConfig"]["Values"][0]: r["Actions"][0]["TargetGroupArn"] for r in rules
            }
            assert values == {routing_key(b.session_id): b.target_group_arn for b in backends}
            assert all(re.fullmatch(r"[0-9a-f]{64}", value) for value in values)
            assert len({b.target_group_arn for b in backends}) == 3
            ecs = clients["ecs"]
            tasks = ecs.describe_tasks(
                cluster=stack.cluster_arn, tasks=[b.task_arn for b in backends], include=["TAGS"]
            )
            tagged = {t["value"] for task in tasks["tasks"] for t in task["tags"] if t["key"] == "deep-insight:session"}
            assert tagged == {upper, lower, long_id}

    asyncio.run(three())
    assert leftovers(clients, stack) == NOTHING


# --- a target group left by an earlier attempt of the same session ----------------------------------------


def test_what_an_earlier_attempt_of_the_session_left_is_replaced_not_reused(clients, stack):
    ecs, elbv2 = clients["ecs"], clients["elbv2"]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    stale_rule = leave_orphan(clients, stack, "test", SESSION, now)
    stale_group = target_group_name("di-test-", SESSION)
    (group,) = elbv2.describe_target_groups(Names=[stale_group])["TargetGroups"]
    elbv2.register_targets(TargetGroupArn=group["TargetGroupArn"], Targets=[{"Id": "10.100.0.99", "Port": 8080}])
    (stale_task,) = ecs.list_tasks(cluster=stack.cluster_arn, desiredStatus="RUNNING")["taskArns"]
    reported: list[str] = []
    backend = session(clients, stack, report=reported.append)

    async def job() -> None:
        async with backend:
            assert backend.target_group_arn != group["TargetGroupArn"]
            health = elbv2.describe_target_health(TargetGroupArn=backend.target_group_arn)
            assert [d["Target"]["Id"] for d in health["TargetHealthDescriptions"]] != ["10.100.0.99"]
            assert len(health["TargetHealthDescriptions"]) == 1
            rules = [r for r in listener_rules(elbv2, stack.listener_arn) if not r["IsDefault"]]
            assert [r["RuleArn"] for r in rules] == [backend.rule_arn]
            assert stale_rule != backend.rule_arn
            running = ecs.list_tasks(cluster=stack.cluster_arn, desiredStatus="RUNNING")["taskArns"]
            assert running == [backend.task_arn]

    asyncio.run(job())
    assert reported == [f"removing target group {stale_group} left by an earlier attempt of this session"]
    assert backend.calls[:5] == [
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:DeleteRule",
        "elasticloadbalancing:DeleteTargetGroup",
        "ecs:ListTasks",
    ]
    stopped = ecs.describe_tasks(cluster=stack.cluster_arn, tasks=[stale_task])["tasks"][0]
    assert stopped["stoppedReason"] == "replaced by a new attempt of the session"
    assert set(backend.calls) <= GRANTED_ACTIONS
    assert leftovers(clients, stack) == NOTHING


# --- more rules than one DescribeRules page -----------------------------------------------------------------


def test_capacity_and_the_reaper_see_every_page_of_rules(clients, stack):
    old = "2026-01-01T00:00:00Z"
    for i in range(55):  # moto's DescribeRules page holds 50 (AWS's up to 400, 100 rules by default quota)
        leave_orphan(clients, stack, "test", f"paged-session-{i:02d}", old, task=False)
    full = session(clients, replace(stack, max_sessions=55))

    async def refused() -> None:
        async with full:
            pass

    with pytest.raises(CapacityError, match="55 executor sessions are running"):
        asyncio.run(refused())
    roomy = session(clients, replace(stack, max_sessions=60))

    async def admitted() -> None:
        async with roomy:
            pass

    asyncio.run(admitted())
    assert roomy.calls.count("elasticloadbalancing:CreateRule") == 1  # it saw every taken priority
    reaped = reap(stack, ecs=clients["ecs"], elbv2=clients["elbv2"], older_than=timedelta(minutes=30))
    assert (len(reaped.rules), len(reaped.target_groups), reaped.failures) == (55, 55, [])
    assert leftovers(clients, stack) == NOTHING


# --- the session-start sweep runs off the event loop --------------------------------------------------------


def test_the_session_start_sweep_does_not_stall_the_event_loop(endpoint, stack, monkeypatch):
    env = {
        Env.AWS_REGION: "us-east-1", Env.STACK: stack.stack, Env.MODEL_ID: "m", Env.ARTIFACT_BUCKET: "b",
        Env.CLUSTER_ARN: stack.cluster_arn, Env.TASK_DEFINITION_ARN: stack.task_definition_arn,
        Env.EXECUTOR_CONTAINER: stack.container, Env.SUBNET_IDS: ",".join(stack.subnet_ids),
        Env.EXECUTOR_SECURITY_GROUP_ID: stack.security_group_id, Env.VPC_ID: stack.vpc_id,
        Env.LISTENER_ARN: stack.listener_arn, Env.ALB_DNS: stack.alb_dns, Env.MAX_SESSIONS: "5",
        Env.SESSION_TARGET_GROUP: json.dumps(stack.target_group.__dict__), Env.EXECUTOR_SESSION_TIMEOUT_SECONDS: "3600",
    }  # fmt: skip
    for name, value in {
        **env,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
    }.items():
        monkeypatch.setenv(str(name), value)
    real_reap = agent_main.reap

    def slow_reap(*args, **kwargs):
        time.sleep(1.0)  # AWS answering slowly
        return real_reap(*args, **kwargs)

    monkeypatch.setattr(agent_main, "reap", slow_reap)
    deps = agent_main.build_deps(None, None)

    async def session_start_and_ticks() -> int:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.05)
                ticks += 1

        running = asyncio.create_task(ticker())
        started = time.monotonic()
        async with deps.open_executor(SESSION, lambda message: None):
            assert time.monotonic() - started >= 1.0
        running.cancel()
        return ticks

    assert asyncio.run(session_start_and_ticks()) >= 10  # /ping and keepalives kept being served


def test_a_stopped_task_is_explained_by_its_containers_exit_code() -> None:
    # Field names from botocore's ECS model (DescribeTasks: Task.stoppedReason, Container.exitCode/reason),
    # so the message reads what ECS really answers.
    ecs_model = botocore.session.get_session().get_service_model("ecs")
    assert {"stoppedReason", "containers", "lastStatus"} <= set(ecs_model.shape_for("Task").members)
    assert {"name", "exitCode", "reason"} <= set(ecs_model.shape_for("Container").members)
    task = {
        "lastStatus": "STOPPED",
        "stoppedReason": "Essential container in task exited",
        "containers": [{"name": "executor", "exitCode": EXIT_UNWRITABLE}],
    }
    message = stopped_reason(task)
    assert message.startswith("Essential container in task exited; container executor exit 73")
    assert "not writable" in message
    assert stopped_reason({"lastStatus": "STOPPED", "containers": [{"name": "executor", "reason": "OOM"}]}) == (
        "STOPPED; container executor: OOM"
    )
