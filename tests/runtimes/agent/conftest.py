"""The executor-session tests' AWS: one moto server per test module (ECS, ELBv2, EC2) with the stack
the Pulumi program leaves, reduced to what the backend touches, and the helpers those tests share."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from deep_insight_agent.aws_calls import listener_rules
from deep_insight_agent.config import EcsSettings
from deep_insight_agent.executor_session import EcsExecutorSession
from deep_insight_contract.target_group import SessionTargetGroupTemplate

from components.iam import run_task_statements, session_routing_statements
from tests.moto_server import executor_network, hold_ecs_tasks, moto_server

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
