"""Appliers for AgentCore (with what AgentCore does on the side) and for the program's dynamic providers.

AgentCore, not the program, makes three things when a runtime in VPC mode is created; moto makes none,
so the runtime's applier stands in for it (see tests/ops/deployed.py's docstring):
* its service-linked role (moto's ``create_service_linked_role`` misspells the name: ``create_role``
  under the service-linked path instead);
* an ENI in each of the runtime's subnets behind its security groups, tagged
  ``AmazonBedrockAgentCoreManaged=true`` (moto cannot fake the requester);
* the DEFAULT endpoint's log group, without retention (AgentCore's own, made at its first write).
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Mapping
from typing import Any

import dill
import pulumi.dynamic

from tests.ops.translate import Applier, Step, number

# AWS's names, written out here rather than taken from ops.verify, so that the tests check its spelling.
SERVICE_LINKED_ROLE = "AWSServiceRoleForBedrockAgentCoreNetwork"
SERVICE_LINKED_ROLE_PATH = "/aws-service-role/network.bedrock-agentcore.amazonaws.com/"
AGENTCORE_ENI_TAG = "AmazonBedrockAgentCoreManaged"
AGENTCORE_LOG_GROUPS = "/aws/bedrock-agentcore/runtimes"


def agent_runtime(step: Step) -> Mapping[str, Any]:
    inputs = step.inputs
    lifecycle = inputs.get("lifecycleConfigurations") or []  # pulumi-aws: a list of at most one
    optional = {
        "description": inputs.get("description"),
        "protocolConfiguration": inputs.get("protocolConfiguration"),
        "lifecycleConfiguration": {k: number(v) for k, v in lifecycle[0].items()} if lifecycle else None,
        "environmentVariables": inputs.get("environmentVariables"),
        "platformVersion": inputs.get("platformVersion"),
        "tags": inputs.get("tags"),
    }
    network = inputs["networkConfiguration"]
    if network.get("networkMode") == "VPC" and step.aws.agentcore_creates_service_linked_role:
        service_linked_role(step)
    made = step.client("bedrock-agentcore-control").create_agent_runtime(
        agentRuntimeName=inputs["agentRuntimeName"],
        agentRuntimeArtifact=inputs["agentRuntimeArtifact"],
        roleArn=inputs["roleArn"],
        networkConfiguration=network,
        **{key: value for key, value in optional.items() if value is not None},
    )
    if network.get("networkMode") == "VPC":
        config = network["networkModeConfig"]
        for subnet in config["subnets"]:
            step.client("ec2").create_network_interface(
                SubnetId=subnet,
                Groups=config["securityGroups"],
                Description=f"AgentCore Runtime {made['agentRuntimeId']}",
                TagSpecifications=[
                    {"ResourceType": "network-interface", "Tags": [{"Key": AGENTCORE_ENI_TAG, "Value": "true"}]}
                ],
            )
    step.client("logs").create_log_group(logGroupName=f"{AGENTCORE_LOG_GROUPS}/{made['agentRuntimeId']}-DEFAULT")
    return {
        "id": made["agentRuntimeId"],
        "agentRuntimeId": made["agentRuntimeId"],
        "agentRuntimeArn": made["agentRuntimeArn"],
        "agentRuntimeVersion": made["agentRuntimeVersion"],
    }


def service_linked_role(step: Step) -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "network.bedrock-agentcore.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam = step.client("iam")
    # One per account: another stack's runtime may have made it.
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(
            RoleName=SERVICE_LINKED_ROLE, Path=SERVICE_LINKED_ROLE_PATH, AssumeRolePolicyDocument=json.dumps(trust)
        )


def agent_runtime_endpoint(step: Step) -> Mapping[str, Any]:
    inputs = step.inputs
    optional = {"description": inputs.get("description"), "tags": inputs.get("tags")}
    made = step.client("bedrock-agentcore-control").create_agent_runtime_endpoint(
        agentRuntimeId=inputs["agentRuntimeId"],
        name=inputs["name"],
        agentRuntimeVersion=inputs["agentRuntimeVersion"],
        **{key: value for key, value in optional.items() if value is not None},
    )
    return {
        "id": f"{inputs['agentRuntimeId']},{inputs['name']}",
        "agentRuntimeEndpointArn": made["agentRuntimeEndpointArn"],
        "agentRuntimeArn": made["agentRuntimeArn"],
    }


def dynamic(step: Step) -> Mapping[str, Any]:
    """What the engine does with a dynamic resource: unpickle its provider (as pulumi.dynamic's host does,
    with dill), configure it with the stack's configuration (its stack files set only aws:region of the AWS
    provider's keys) and call ``create`` with the other inputs. The provider makes its own boto3 clients,
    which reach moto through ``AWS_ENDPOINT_URL``."""
    inputs = dict(step.inputs)  # reads every input: all of them are the provider's
    provider = dill.loads(base64.b64decode(inputs.pop("__provider")))
    stack_config = pulumi.dynamic.Config({"aws:region": step.aws.region}, "deep-insight")
    provider.configure(pulumi.dynamic.ConfigureRequest(stack_config))
    created = provider.create(inputs)
    outputs = {key: value for key, value in (created.outs or {}).items() if isinstance(value, str)}
    return {**outputs, "id": created.id}


APPLIERS: dict[str, Applier] = {
    "aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime": agent_runtime,
    "aws:bedrock/agentcoreAgentRuntimeEndpoint:AgentcoreAgentRuntimeEndpoint": agent_runtime_endpoint,
}
