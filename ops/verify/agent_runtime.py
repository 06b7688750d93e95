"""AgentCore runtime checks: status, VPC configuration, image, role, endpoint, service-linked role, ENIs."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from components.agent_runtime import ENDPOINT_NAME
from components.security import Group
from ops.verify.context import CheckList, Context, Result, error_code, listing, short_digest, verdict

CHECKS = CheckList()
check = CHECKS.add

SERVICE_LINKED_ROLE = "AWSServiceRoleForBedrockAgentCoreNetwork"
# AgentCore's service-linked role may create an ENI only with this tag set to "true" (AWS managed policy
# BedrockAgentCoreNetworkServiceRolePolicy), so the tag, not a description or requester id, marks its ENIs.
AGENTCORE_ENI_TAG = "AmazonBedrockAgentCoreManaged"
AGENTCORE_PRINCIPAL = "bedrock-agentcore.amazonaws.com"


@check("Agent runtime")
def agent_runtime(ctx: Context) -> Result:
    runtime = ctx.runtime
    agent = ctx.settings.agent
    lifecycle = runtime.get("lifecycleConfiguration", {})
    problems: list[str] = []
    if runtime.get("status") != "READY":
        reason = f": {runtime['failureReason']}" if runtime.get("failureReason") else ""
        problems.append(f"status {runtime.get('status')}, expected READY{reason}")
    mode = runtime.get("networkConfiguration", {}).get("networkMode")
    if mode != "VPC":
        problems.append(f"network mode {mode}, expected VPC")
    wanted = {
        "idleRuntimeSessionTimeout": (agent.idle_session_timeout_seconds, "agent.idleSessionTimeoutSeconds"),
        "maxLifetime": (agent.max_lifetime_seconds, "agent.maxLifetimeSeconds"),
    }
    for field, (value, key) in wanted.items():
        if lifecycle.get(field) != value:
            problems.append(f"{field} {lifecycle.get(field)}, expected {value} ({key})")
    return verdict(
        problems,
        f"{runtime.get('agentRuntimeName')} version {runtime.get('agentRuntimeVersion')} READY in VPC mode, "
        f"idle {agent.idle_session_timeout_seconds} s, max {agent.max_lifetime_seconds} s",
    )


@check("Runtime network")
def runtime_network(ctx: Context) -> Result:
    config = ctx.runtime.get("networkConfiguration", {}).get("networkModeConfig", {})
    problems: list[str] = []
    if set(config.get("subnets", [])) != set(ctx.agent_subnets):
        problems.append(
            f"subnets {listing(sorted(config.get('subnets', [])))}, expected agentSubnetIds "
            f"{listing(sorted(ctx.agent_subnets))}"
        )
    groups = config.get("securityGroups", [])
    if set(groups) != {ctx.groups[Group.AGENT.value]}:
        problems.append(f"security groups {listing(ctx.group_name(g) for g in groups)}, expected the agent group only")
    return verdict(problems, "ENIs go to the agent subnets only, behind the agent security group")


@check("Runtime image")
def runtime_image(ctx: Context) -> Result:
    uri = ctx.runtime.get("agentRuntimeArtifact", {}).get("containerConfiguration", {}).get("containerUri")
    if uri != ctx.outputs["agentImageUri"]:
        return False, f"runtime runs {uri}, but agentImageUri is {ctx.outputs['agentImageUri']} (image not rolled out)"
    return True, f"the runtime runs agentImageUri, pinned to {short_digest(str(uri))}"


@check("Runtime role")
def runtime_role(ctx: Context) -> Result:
    role_arn = ctx.runtime.get("roleArn")
    if role_arn != ctx.outputs["agentRoleArn"]:
        return False, f"runtime uses {role_arn}, expected agentRoleArn {ctx.outputs['agentRoleArn']}"
    role = ctx.client("iam").get_role(RoleName=str(role_arn).rsplit("/", 1)[-1])["Role"]
    trust = role.get("AssumeRolePolicyDocument", {})
    trust = json.loads(trust) if isinstance(trust, str) else trust
    services: set[str] = set()
    for statement in trust.get("Statement", []):
        service = statement.get("Principal", {}).get("Service", [])
        services.update([service] if isinstance(service, str) else service)
    if services != {AGENTCORE_PRINCIPAL}:
        return False, f"{role['RoleName']} trusts {listing(sorted(services))}, expected {AGENTCORE_PRINCIPAL} only"
    return True, f"{role['RoleName']} trusts {AGENTCORE_PRINCIPAL} only"


@check("Runtime endpoint")
def runtime_endpoint(ctx: Context) -> Result:
    endpoint = ctx.client("bedrock-agentcore-control").get_agent_runtime_endpoint(
        agentRuntimeId=ctx.outputs["agentRuntimeId"], endpointName=ENDPOINT_NAME
    )
    problems: list[str] = []
    if endpoint.get("status") != "READY":
        problems.append(f"status {endpoint.get('status')}, expected READY")
    if endpoint.get("agentRuntimeEndpointArn") != ctx.outputs["agentRuntimeEndpointArn"]:
        problems.append(f"ARN {endpoint.get('agentRuntimeEndpointArn')} is not agentRuntimeEndpointArn")
    latest = ctx.runtime.get("agentRuntimeVersion")
    if endpoint.get("liveVersion") != latest:
        problems.append(f"serves version {endpoint.get('liveVersion')}, the runtime is at version {latest}")
    return verdict(problems, f"{ENDPOINT_NAME} READY, serving the latest version {latest}")


@check("Service-linked role")
def service_linked_role(ctx: Context) -> Result:
    try:
        role = ctx.client("iam").get_role(RoleName=SERVICE_LINKED_ROLE)["Role"]
    except ClientError as error:
        if error_code(error) != "NoSuchEntity":
            raise
        return False, (
            f"{SERVICE_LINKED_ROLE} does not exist; AgentCore creates it on first VPC use when the deployer "
            "may iam:CreateServiceLinkedRole"
        )
    if not str(role.get("Path", "")).startswith("/aws-service-role/"):
        return False, f"{SERVICE_LINKED_ROLE} exists at path {role.get('Path')}, not as a service-linked role"
    return True, f"{SERVICE_LINKED_ROLE} exists"


@check("AgentCore ENIs")
def agentcore_enis(ctx: Context) -> Result:
    interfaces = ctx.pages(
        "ec2",
        "describe_network_interfaces",
        "NetworkInterfaces",
        Filters=[
            {"Name": "subnet-id", "Values": ctx.agent_subnets},
            {"Name": f"tag:{AGENTCORE_ENI_TAG}", "Values": ["true"]},
        ],
    )
    if not interfaces:
        return False, (
            f"no ENI tagged {AGENTCORE_ENI_TAG}=true in the agent subnets; the runtime cannot reach the VPC "
            "(check the runtime's status and the service-linked role)"
        )
    agent_group = ctx.groups[Group.AGENT.value]
    strays = [
        i["NetworkInterfaceId"]
        for i in interfaces
        if agent_group not in {g.get("GroupId") for g in i.get("Groups", [])}
    ]
    if strays:
        return False, f"{listing(strays)} lack the agent security group"
    covered = {i.get("SubnetId") for i in interfaces}
    bare = [s for s in ctx.agent_subnets if s not in covered]
    if bare:
        # AgentCore puts an ENI in each subnet of the runtime; one missing means that subnet's AZ is unusable.
        return False, f"no AgentCore ENI in agent subnet(s) {listing(bare)} (ENIs in {listing(sorted(covered))})"
    return True, (
        f"{len(interfaces)} tagged {AGENTCORE_ENI_TAG}=true in {len(covered)} of {len(ctx.agent_subnets)} agent "
        "subnets, behind the agent group"
    )
