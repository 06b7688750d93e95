"""The AgentCore runtime: VPC mode in supported AZs, digest-pinned ARM64 image, environment, role."""

from __future__ import annotations

import json

import pytest
from deep_insight_contract.environment import AgentEnv

from components.agent_runtime import ROLE_SESSION_SECONDS
from components.runtime_contract import agentcore_runtime_name
from components.zones import AGENTCORE_SUPPORTED_AZ_IDS
from tests.aws_reference import allows
from tests.botocore_shapes import _shapes, member_shape
from tests.conftest import key
from tests.policy_lint import parliament_findings, wildcard_grants

RUNTIME = "aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime"
ENDPOINT = "aws:bedrock/agentcoreAgentRuntimeEndpoint:AgentcoreAgentRuntimeEndpoint"
SUBNET = "aws:ec2/subnet:Subnet"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_runtime_runs_in_vpc_mode_in_supported_zones_only(request, stack):
    evaluation = request.getfixturevalue(stack)
    network = evaluation.named("agent-runtime", RUNTIME).inputs["networkConfiguration"]
    assert network["networkMode"] == "VPC"
    subnets = network["networkModeConfig"]["subnets"]
    assert subnets == evaluation.outputs["agentSubnetIds"]
    zones = {r.inputs["availabilityZoneId"] for r in evaluation.of_type(SUBNET) if r.id in subnets}
    assert zones <= set(AGENTCORE_SUPPORTED_AZ_IDS["us-east-1"])
    assert len(zones) == len(subnets)
    assert network["networkModeConfig"]["securityGroups"] == [evaluation.outputs["securityGroupIds"]["agent"]]


def test_runtime_image_is_digest_pinned_and_arm64(dev):
    runtime = dev.named("agent-runtime", RUNTIME).inputs
    uri = runtime["agentRuntimeArtifact"]["containerConfiguration"]["containerUri"]
    assert "@sha256:" in uri
    build = dev.named("agent-image-codebuild-build", "pulumi-python:dynamic/images:RemoteImageBuild")
    assert "--platform linux/arm64 " in build.inputs["buildspec"]  # AgentCore runs ARM64 images only
    assert uri == build.state["image_uri"]


def test_lifecycle_and_name_come_from_settings(dev, evaluate_stack):
    runtime = dev.named("agent-runtime", RUNTIME).inputs
    assert runtime["agentRuntimeName"] == "deep_insight_dev"
    assert runtime["lifecycleConfigurations"] == [{"idleRuntimeSessionTimeout": 900, "maxLifetime": 28800}]
    assert runtime["protocolConfiguration"] == {"serverProtocol": "HTTP"}
    changed = evaluate_stack(
        "dev", {key("agent.idleSessionTimeoutSeconds"): "120", key("agent.maxLifetimeSeconds"): "3600"}
    )
    runtime = changed.named("agent-runtime", RUNTIME).inputs
    assert runtime["lifecycleConfigurations"] == [{"idleRuntimeSessionTimeout": 120, "maxLifetime": 3600}]


def test_environment_is_exactly_the_contract_wired_to_the_stack(dev):
    env = dev.named("agent-runtime", RUNTIME).inputs["environmentVariables"]
    out = dev.outputs
    assert set(env) == {member.value for member in AgentEnv}
    assert env == {
        "AWS_REGION": "us-east-1",
        "DEEP_INSIGHT_STACK": "dev",
        "DEEP_INSIGHT_MODEL_ID": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "DEEP_INSIGHT_AGENT_MODELS": "{}",  # agent.models unset: every agent uses the model above
        "DEEP_INSIGHT_ARTIFACT_BUCKET": out["artifactBucket"],
        "DEEP_INSIGHT_CLUSTER_ARN": out["clusterArn"],
        "DEEP_INSIGHT_TASK_DEFINITION_ARN": out["executorTaskDefinitionArn"],
        "DEEP_INSIGHT_EXECUTOR_CONTAINER": out["executorContainerName"],
        "DEEP_INSIGHT_SUBNET_IDS": ",".join(out["privateSubnetIds"]),
        "DEEP_INSIGHT_EXECUTOR_SECURITY_GROUP_ID": out["securityGroupIds"]["executor"],
        "DEEP_INSIGHT_VPC_ID": out["vpcId"],
        "DEEP_INSIGHT_LISTENER_ARN": out["listenerArn"],
        "DEEP_INSIGHT_ALB_DNS": out["albDnsName"],
        "DEEP_INSIGHT_MAX_SESSIONS": "20",
        "DEEP_INSIGHT_SESSION_TARGET_GROUP": env["DEEP_INSIGHT_SESSION_TARGET_GROUP"],
        "DEEP_INSIGHT_EXECUTOR_SESSION_TIMEOUT_SECONDS": "3600",
    }
    assert "task-definition/deep-insight-dev-executor:" in env["DEEP_INSIGHT_TASK_DEFINITION_ARN"]


def test_role_trusts_agentcore_and_its_policy_is_clean_and_created_first(dev):
    runtime = dev.named("agent-runtime", RUNTIME)
    role = next(r for r in dev.of_type("aws:iam/role:Role") if r.state["arn"] == runtime.inputs["roleArn"])
    assert role.name == "agent-role"
    assert dev.outputs["agentRoleArn"] == role.state["arn"]
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "bedrock-agentcore.amazonaws.com"}
    policy_resource = dev.named("agent-policy", "aws:iam/rolePolicy:RolePolicy")
    assert policy_resource.urn in runtime.dependencies
    policy = json.loads(policy_resource.inputs["policy"])
    assert parliament_findings(policy) == []
    assert wildcard_grants(policy) == []
    run_task = next(s for s in policy["Statement"] if s["Sid"] == "RunExecutorTask")
    assert run_task["Condition"] == {"ArnEquals": {"ecs:cluster": dev.outputs["clusterArn"]}}
    pass_role = next(s for s in policy["Statement"] if s["Sid"] == "PassExecutorRoles")
    task = dev.named("executor-task", "aws:ecs/taskDefinition:TaskDefinition").inputs
    assert pass_role["Resource"] == [task["executionRoleArn"]]  # the task has no task role (issue 12)


@pytest.mark.parametrize("lifetime", [None, "3600", "600"])
def test_the_role_lasts_as_long_as_a_session_may(dev, evaluate_stack, lifetime):
    # IAM's default session is one hour while a runtime session may live its maxLifetime (8 h by default):
    # the agent's credentials, and every URL it presigns with them, would expire first. AWS's CDK construct
    # for AgentCore runtimes (aws-cdk, packages/@aws-cdk/aws-bedrock-agentcore-alpha/lib/runtime/runtime.ts)
    # gives its execution role maxSessionDuration 8 h. IAM's bounds come from botocore's model.
    iam = _shapes("iam")[0][member_shape("iam", "CreateRole", "MaxSessionDuration")]
    assert (ROLE_SESSION_SECONDS.start, ROLE_SESSION_SECONDS.stop - 1) == (iam["min"], iam["max"])
    changed = {key("agent.maxLifetimeSeconds"): lifetime, key("agent.idleSessionTimeoutSeconds"): "120"}
    evaluation = dev if lifetime is None else evaluate_stack("dev", changed)
    runtime = evaluation.named("agent-runtime", RUNTIME).inputs
    role = next(r for r in evaluation.of_type("aws:iam/role:Role") if r.state["arn"] == runtime["roleArn"])
    (lifecycle,) = runtime["lifecycleConfigurations"]
    assert role.inputs["maxSessionDuration"] == max(lifecycle["maxLifetime"], iam["min"])
    assert iam["min"] <= role.inputs["maxSessionDuration"] <= iam["max"]


def test_endpoint_follows_the_runtime_version(dev):
    runtime = dev.named("agent-runtime", RUNTIME)
    endpoint = dev.named("agent-endpoint", ENDPOINT).inputs
    assert endpoint["agentRuntimeId"] == runtime.state["agentRuntimeId"]
    assert endpoint["agentRuntimeVersion"] == runtime.state["agentRuntimeVersion"]
    assert endpoint["name"] == "live"
    assert dev.outputs["agentRuntimeEndpointArn"].endswith("/runtime-endpoint/live")


RETENTION = "pulumi-python:dynamic/logs:RuntimeLogRetention"


@pytest.mark.parametrize(("stack", "days"), [("dev", 7), ("prod", 30)])
def test_agentcore_log_groups_are_not_owned_only_their_retention_is_applied(request, stack, days):
    evaluation = request.getfixturevalue(stack)
    runtime_id = evaluation.outputs["agentRuntimeId"]
    # AgentCore creates /aws/bedrock-agentcore/runtimes/<id>-<endpoint> itself: declaring it would race it.
    owned = [r.inputs.get("name", "") for r in evaluation.of_type("aws:cloudwatch/logGroup:LogGroup")]
    assert not [name for name in owned if name.startswith("/aws/bedrock-agentcore/")]
    (retention,) = evaluation.of_type(RETENTION)
    live = f"/aws/bedrock-agentcore/runtimes/{runtime_id}-live"
    assert retention.inputs["log_group_name"] == live  # the live endpoint's group only, not -DEFAULT
    assert retention.inputs["days"] == days
    assert retention.inputs["region"] == "us-east-1"
    assert evaluation.outputs["agentLogGroup"] == live
    assert not retention.retain_on_delete  # deleting it deletes nothing: its provider leaves the group


def test_retention_is_applied_after_the_runtime_and_its_endpoint_exist(dev):
    (retention,) = dev.of_type(RETENTION)
    assert dev.named("agent-runtime", RUNTIME).urn in retention.dependencies
    assert dev.named("agent-endpoint", ENDPOINT).urn in retention.dependencies


def test_platform_version_is_set_explicitly(dev, evaluate_stack):
    assert dev.named("agent-runtime", RUNTIME).inputs["platformVersion"] == "V1"
    v2 = evaluate_stack("dev", {key("agent.platformVersion"): "V2"})
    assert v2.error is None, v2.error
    assert v2.named("agent-runtime", RUNTIME).inputs["platformVersion"] == "V2"
    # the environment is the same on either version
    assert (
        v2.named("agent-runtime", RUNTIME).inputs["environmentVariables"]
        == dev.named("agent-runtime", RUNTIME).inputs["environmentVariables"]
    )


@pytest.mark.parametrize(
    ("stack", "name"),
    [("dev", "deep_insight_dev"), ("feature-x.1", "deep_insight_feature_x_1"), ("s" * 60, "deep_insight_" + "s" * 35)],
)
def test_runtime_name_is_valid_for_agentcore(stack, name):
    assert agentcore_runtime_name(stack) == name
    assert len(name) <= 48


HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


def _profile(model: str) -> str:
    return f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{model}"


def _can_invoke(policy: dict, model: str) -> bool:
    """The Service Authorization Reference's two checks for a call through a profile: the profile, and the
    foundation model in a region the profile routes to, with the profile as bedrock:InferenceProfileArn."""
    foundation = f"arn:aws:bedrock:us-west-2::foundation-model/{model.split('.', 1)[1]}"
    context = {"bedrock:InferenceProfileArn": _profile(model)}
    return allows(policy, "bedrock:InvokeModelWithResponseStream", _profile(model), {}) and allows(
        policy, "bedrock:InvokeModelWithResponseStream", foundation, context
    )


def test_agent_models_reach_the_runtime_and_each_model_is_granted(dev, evaluate_stack):
    chosen = evaluate_stack("dev", {key("agent.models"): json.dumps({"planner": HAIKU})})
    assert chosen.error is None, chosen.error
    environment = chosen.named("agent-runtime", RUNTIME).inputs["environmentVariables"]
    assert json.loads(environment[AgentEnv.AGENT_MODELS]) == {"planner": HAIKU}
    policy = json.loads(chosen.named("agent-policy", "aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    default = dev.named("agent-runtime", RUNTIME).inputs["environmentVariables"][AgentEnv.MODEL_ID]
    assert _can_invoke(policy, HAIKU)
    assert _can_invoke(policy, default)
    assert len({s["Sid"] for s in policy["Statement"]}) == len(policy["Statement"])  # Sids stay unique
    assert parliament_findings(policy) == []
    base = json.loads(dev.named("agent-policy", "aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    assert json.loads(dev.named("agent-runtime", RUNTIME).inputs["environmentVariables"][AgentEnv.AGENT_MODELS]) == {}
    assert not _can_invoke(base, HAIKU)  # without agent.models, no grant for it
