"""The session sweeper's delete (components.sweeper) against a deployed dev stack in moto, tasks held RUNNING.

What `pulumi destroy` relies on: once the sweeper is deleted, no executor task of the stack runs (their ENIs
would block the executor security group and the private subnets, and ECS DeleteCluster), and no session
rule or target group is left; the wait is bounded.
"""

from __future__ import annotations

from datetime import timedelta

import pulumi.dynamic
import pytest
from deep_insight_agent.reaper import Reaped
from deep_insight_contract.environment import AgentEnv
from deep_insight_contract.target_group import SessionTargetGroupTemplate, target_group_prefix

from components import sweeper
from components.sweeper import SweeperProvider, SweepError
from tests.moto_server import hold_ecs_tasks
from tests.ops.deployed import Deployed, deploy, leave_session, shared_session

REGION = "us-east-1"
SWEEPER = "pulumi-python:dynamic/ecs:SessionSweeper"


def configured() -> SweeperProvider:
    """The provider as Pulumi's host hands it over: configured with the stack's configuration first."""
    provider = SweeperProvider()
    provider.configure(pulumi.dynamic.ConfigureRequest(pulumi.dynamic.Config({"aws:region": REGION}, "deep-insight")))
    return provider


def client(service: str):
    return shared_session().client(service, region_name=REGION)


def deployed_props(stack: Deployed) -> dict:
    """The sweeper's state as `pulumi up` made it: the program's declared inputs, with moto's ids."""
    props = stack.inputs_of(SWEEPER)
    del props["__provider"]
    return props


def props_of(outputs: dict, stack: str = "dev") -> dict:
    """Sweeper state of the declared shape for made-up outputs (the agent runtime's environment)."""
    return {
        "environment": {
            AgentEnv.AWS_REGION: outputs["region"],
            AgentEnv.STACK: stack,
            AgentEnv.ARTIFACT_BUCKET: outputs["artifactBucket"],
            AgentEnv.CLUSTER_ARN: outputs["clusterArn"],
            AgentEnv.TASK_DEFINITION_ARN: outputs["executorTaskDefinitionArn"],
            AgentEnv.EXECUTOR_CONTAINER: outputs["executorContainerName"],
            AgentEnv.SUBNET_IDS: ",".join(outputs["privateSubnetIds"]),
            AgentEnv.EXECUTOR_SECURITY_GROUP_ID: outputs["securityGroupIds"]["executor"],
            AgentEnv.VPC_ID: outputs["vpcId"],
            AgentEnv.LISTENER_ARN: outputs["listenerArn"],
            AgentEnv.ALB_DNS: outputs["albDnsName"],
            AgentEnv.MAX_SESSIONS: "20",
            AgentEnv.SESSION_TARGET_GROUP: SessionTargetGroupTemplate(name_prefix=target_group_prefix(stack)).to_json(),
            AgentEnv.EXECUTOR_SESSION_TIMEOUT_SECONDS: "3600",
        }
    }


def task_statuses(outputs: dict) -> dict[str, str]:
    ecs = client("ecs")
    arns = ecs.list_tasks(cluster=outputs["clusterArn"])["taskArns"]
    described = ecs.describe_tasks(cluster=outputs["clusterArn"], tasks=arns)["tasks"] if arns else []
    return {t["taskArn"]: t["lastStatus"] for t in described}


@pytest.fixture
def stack(aws):
    hold_ecs_tasks(aws)
    return deploy("dev")


def test_delete_stops_every_task_and_removes_every_session_rule_and_target_group(stack, monkeypatch):
    out = stack.outputs
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")  # the provider must use the stack's region
    # a live session started this second, one tagged by an agent whose clock runs 5 minutes ahead, an orphan,
    # and a task RunTask made but not yet tagged as a session
    leave_session(stack, "live-session-started-this-second-000", timedelta(0))
    leave_session(stack, "agent-clock-five-minutes-ahead-00000", timedelta(minutes=-5))
    leave_session(stack, "orphan-from-a-crashed-runtime-000000", timedelta(hours=3))
    client("ecs").run_task(
        cluster=out["clusterArn"], taskDefinition=out["executorTaskDefinitionArn"], launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": out["privateSubnetIds"],
                                                      "securityGroups": [out["securityGroupIds"]["executor"]]}},
    )  # fmt: skip
    # another stack's target group in the same account is not this stack's to remove
    leave_session(stack, "another-stacks-session-000000000000", timedelta(hours=3), stack="prod", task=False)
    assert sorted(task_statuses(out).values()) == ["RUNNING"] * 4

    configured().delete("sessions-of-dev", deployed_props(stack))

    assert sorted(task_statuses(out).values()) == ["STOPPED"] * 4
    assert client("ecs").list_tasks(cluster=out["clusterArn"], desiredStatus="RUNNING")["taskArns"] == []
    rules = client("elbv2").describe_rules(ListenerArn=out["listenerArn"])["Rules"]
    assert [r["IsDefault"] for r in rules] == [True]
    groups = [g["TargetGroupName"] for g in client("elbv2").describe_target_groups()["TargetGroups"]]
    assert groups == [g for g in groups if g.startswith(target_group_prefix("prod"))]
    assert len(groups) == 1
    # with no session left, ECS deletes the cluster (what Pulumi does next)
    client("ecs").delete_cluster(cluster=out["clusterArn"])


def test_delete_with_nothing_running_is_quick_and_quiet(stack):
    configured().delete("sessions-of-dev", deployed_props(stack))
    assert task_statuses(stack.outputs) == {}


def test_create_and_every_update_touch_nothing_and_never_replace(stack):
    out = stack.outputs
    leave_session(stack, "live-session-started-just-now-000000", timedelta(seconds=5))
    provider = configured()
    olds = deployed_props(stack)
    assert provider.create(olds).id == "sessions-of-dev"
    env = olds["environment"]
    news = {
        "environment": {
            **env,
            AgentEnv.TASK_DEFINITION_ARN: env[AgentEnv.TASK_DEFINITION_ARN] + "-2",
            AgentEnv.LISTENER_ARN: "changed",
        }
    }
    diff = provider.diff("sessions-of-dev", olds, news)
    assert (diff.changes, diff.replaces) == (True, [])  # a replacement would delete, i.e. sweep live sessions
    provider.update("sessions-of-dev", olds, news)
    assert sorted(task_statuses(out).values()) == ["RUNNING"]


def test_delete_fails_loudly_when_tasks_outlive_the_wait(aws, monkeypatch):
    monkeypatch.setattr(sweeper, "sweep_sessions", lambda *a, **k: Reaped(tasks=["arn:t/1"], not_stopped=["arn:t/1"]))
    with pytest.raises(SweepError, match=r"remain after 300 s; run `pulumi destroy` again: task arn:t/1 not STOPPED"):
        configured().delete("sessions-of-dev", props_of(FAKE_OUTPUTS))


FAKE_OUTPUTS = {
    "region": REGION, "clusterArn": "arn:c", "executorTaskDefinitionArn": "arn:td:1", "executorContainerName": "executor",
    "privateSubnetIds": ["subnet-1"], "securityGroupIds": {"executor": "sg-1"}, "vpcId": "vpc-1",
    "listenerArn": "arn:l", "albDnsName": "alb", "artifactBucket": "bucket",
}  # fmt: skip
