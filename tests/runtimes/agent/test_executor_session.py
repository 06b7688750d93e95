"""A session on the ECS/ALB executor backend against a real moto server on 127.0.0.1: it starts, routes and
cleans up, however the job ends; capacity, rule priorities and session ids; the settings it starts from."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from dataclasses import replace

import deep_insight_agent.__main__ as agent_main
import pytest
from deep_insight_agent.aws_calls import listener_rules
from deep_insight_agent.config import ConfigError, EcsSettings, Env
from deep_insight_agent.executor_session import (
    CapacityError,
    EcsExecutorSession,
    target_group_name,
)
from deep_insight_contract.session import ROUTING_HEADER, InvalidSessionId, routing_key
from deep_insight_contract.target_group import SessionTargetGroupTemplate

from tests.runtimes.agent.conftest import GRANTED_ACTIONS, NOTHING, SESSION, FailingElb, leftovers, session


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
            bearer = executor.headers["Authorization"].removeprefix("Bearer ")
            assert "EXECUTOR_TOKEN" not in environment  # the task's environment is readable to its code's uid
            assert environment["EXECUTOR_TOKEN_SHA256"] == hashlib.sha256(bearer.encode()).hexdigest()
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


def test_missing_environment_is_named_in_one_line():
    with pytest.raises(ConfigError) as missing:
        EcsSettings.from_env({"AWS_REGION": "us-east-1"})
    message = str(missing.value)
    assert "\n" not in message
    assert "DEEP_INSIGHT_CLUSTER_ARN" in message
    assert "DEEP_INSIGHT_LISTENER_ARN" in message


# --- session ids and routing --------------------------------------------------------------------------------


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
