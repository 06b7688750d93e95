"""The session sweeper's place in the evaluated program: the dependencies decide the order of `pulumi destroy`.

Pulumi deletes a resource only after everything that depends on it. So the sweeper (deleted: sweep) goes
before the cluster, the executor security group, the private subnets and the listener it depends on, and
after the agent runtime, which depends on it (no new session starts once the sweep begins).
"""

from __future__ import annotations

import pytest
from deep_insight_agent.config import EcsSettings

from ops.reap import ecs_settings
from ops.stack import read_settings

SWEEPER = "pulumi-python:dynamic/ecs:SessionSweeper"
RUNTIME = "aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime"


def sweeper_of(evaluation):
    (sweeper,) = evaluation.of_type(SWEEPER)
    return sweeper


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_sweeper_is_deleted_before_what_running_tasks_block(request, stack):
    evaluation = request.getfixturevalue(stack)
    sweeper = sweeper_of(evaluation)
    out = evaluation.outputs
    cluster = evaluation.named("executor-cluster", "aws:ecs/cluster:Cluster")
    listener = evaluation.named("alb-http", "aws:lb/listener:Listener")
    executor_sg = evaluation.named("security-executor", "aws:ec2/securityGroup:SecurityGroup")
    private_subnets = [r for r in evaluation.of_type("aws:ec2/subnet:Subnet") if r.id in out["privateSubnetIds"]]
    assert len(private_subnets) == len(out["availabilityZoneIds"])
    assert (cluster.state["arn"], executor_sg.id) == (out["clusterArn"], out["securityGroupIds"]["executor"])
    for blocked in (cluster, listener, executor_sg, *private_subnets):
        assert blocked.urn in sweeper.dependencies, blocked.name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_runtime_is_deleted_before_the_sweep(request, stack):
    evaluation = request.getfixturevalue(stack)
    assert sweeper_of(evaluation).urn in evaluation.named("agent-runtime", RUNTIME).dependencies


def test_the_sweeper_is_neither_protected_nor_retained(prod):
    sweeper = sweeper_of(prod)
    assert (sweeper.protect, sweeper.retain_on_delete) == (False, False)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_sweeper_sweeps_what_the_agent_and_the_reaper_know_as_the_stack(request, stack):
    evaluation = request.getfixturevalue(stack)
    # The state the sweeper's delete reads is the agent's own configuration (what `deep-insight reap` rebuilds).
    expected = ecs_settings(stack, evaluation.outputs, read_settings(stack))
    assert EcsSettings.from_env(sweeper_of(evaluation).inputs["environment"]) == expected
