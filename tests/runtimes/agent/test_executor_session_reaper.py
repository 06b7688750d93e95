"""What executor sessions leave behind, found by their tags against a real moto server: the reaper's sweeps,
a session's own earlier attempt, and listener rules beyond one DescribeRules page."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from deep_insight_agent.aws_calls import listener_rules
from deep_insight_agent.config import EcsSettings
from deep_insight_agent.executor_session import (
    CapacityError,
    target_group_name,
)
from deep_insight_agent.reaper import orphan_age, reap
from deep_insight_contract.session import ROUTING_HEADER, routing_key

from tests.runtimes.agent.conftest import GRANTED_ACTIONS, NOTHING, SESSION, leftovers, session


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


# --- a target group left by an earlier attempt of the same session ------------------------------------------


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
