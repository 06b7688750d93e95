"""The AgentCore runtime (VPC mode), its execution role, its endpoint and the retention of its log group.

The runtime's ENIs go only into the agent subnets (AgentCore-supported AZ IDs) behind the agent
security group. Its execution role gets AWS's documented baseline, the pull of its own image, and the
statements each dependency grants (CDK's ``grant*`` style: ``cluster.run_task_statements()`` and so on).
Everything the agent needs to know about the stack reaches it as environment (SPEC §7,
`deep_insight_contract.environment.AgentEnv`): no account, cluster, subnet or ARN is written into runtime code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import pulumi
import pulumi_aws as aws

from components.iam import (
    ImagePuller,
    Statement,
    agent_runtime_policy,
    agentcore_baseline_statements,
    agentcore_trust,
    invoke_runtime_statements,
)
from components.log_retention import RetentionArgs, RuntimeLogRetention, runtime_log_group_name
from components.role import role_with_policy
from components.runtime_platform import checked_environment
from components.settings import ResourceTags
from components.settings_schema import PlatformVersion

ENDPOINT_NAME = "live"
# AgentCore creates and writes /aws/bedrock-agentcore/runtimes/<runtime id>-<endpoint name> itself. The
# program only applies the stack's retention to the group of its own endpoint (components.log_retention);
# it leaves the DEFAULT endpoint's group alone: callers use `live`, and managing retention on -DEFAULT has
# been reported to stop AgentCore's logs there.
RETAINED_ENDPOINTS = (ENDPOINT_NAME,)

ROLE_SESSION_SECONDS = range(3600, 43201)
"""IAM's bounds of a role's MaxSessionDuration (botocore's iam model, roleMaxSessionDurationType)."""


def role_session_seconds(max_lifetime_seconds: int) -> int:
    """The execution role's longest session: the runtime session's whole lifetime, so the credentials the agent
    signs with (and the presigned URLs, which die with them) last as long as a session may. IAM's default is one
    hour; AWS's CDK construct for AgentCore runtimes gives its role 8 hours, the longest lifetime."""
    return max(max_lifetime_seconds, ROLE_SESSION_SECONDS.start)


__all__ = [
    "ENDPOINT_NAME",
    "RETAINED_ENDPOINTS",
    "ROLE_SESSION_SECONDS",
    "AgentRuntime",
    "AgentRuntimeArgs",
    "role_session_seconds",
    "runtime_log_group_name",
]


class RuntimeImage(Protocol):
    """The image the runtime runs (`components.image.ContainerImage`): its URI and how to pull it."""

    @property
    def image_uri(self) -> pulumi.Output[str]: ...

    def pull_statements(self, puller: ImagePuller) -> pulumi.Output[list[Statement]]: ...


@dataclass(frozen=True)
class AgentRuntimeArgs:
    runtime_name: str
    image: RuntimeImage
    subnet_ids: pulumi.Input[list[str]]
    security_group_id: pulumi.Input[str]
    environment: Mapping[str, pulumi.Input[str]]
    idle_session_timeout_seconds: int
    max_lifetime_seconds: int
    log_retention_days: int
    statements: Sequence[pulumi.Input[Sequence[Statement]]]
    """What the execution role may do beyond the baseline and its image: each dependency's grant, in order."""
    partition: str
    region: str
    account_id: str
    tags: ResourceTags
    platform_version: PlatformVersion = PlatformVersion.V1
    depends_on: Sequence[pulumi.Resource] = ()
    """What must exist before the runtime and be deleted only after it (the session sweeper)."""


class AgentRuntime(pulumi.ComponentResource):
    runtime_arn: pulumi.Output[str]
    runtime_id: pulumi.Output[str]
    endpoint_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]

    def role_statements(self) -> pulumi.Output[list[Statement]]:
        """Every statement of the execution role: what the runtime may do, from its ENIs in the VPC too."""
        return self._policy.apply(lambda policy: list(policy["Statement"]))

    def invoke_statements(self) -> pulumi.Output[list[Statement]]:
        """Start jobs on this runtime through its `live` endpoint, the one callers use."""
        return self.runtime_arn.apply(lambda arn: invoke_runtime_statements(arn, ENDPOINT_NAME))

    def __init__(self, name: str, args: AgentRuntimeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("deep-insight:agent:AgentRuntime", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = args.tags
        baseline = agentcore_baseline_statements(
            partition=args.partition, region=args.region, account_id=args.account_id, runtime_name=args.runtime_name
        )
        self._policy = pulumi.Output.all(args.image.pull_statements(ImagePuller.AGENTCORE), *args.statements).apply(
            lambda lists: agent_runtime_policy(
                image_pull=lists[0],
                baseline=baseline,
                grants=[statement for granted in lists[1:] for statement in granted],
            )
        )
        role, policy = role_with_policy(
            name,
            description="Deep Insight AgentCore runtime execution role",
            trust=agentcore_trust(partition=args.partition, region=args.region, account_id=args.account_id),
            policy=self._policy,
            tags=tags,
            tag_name="agent-role",
            parent=self,
            max_session_seconds=role_session_seconds(args.max_lifetime_seconds),
        )
        runtime = aws.bedrock.AgentcoreAgentRuntime(
            f"{name}-runtime",
            agent_runtime_name=args.runtime_name,
            description=f"Deep Insight multi-agent analysis ({tags.stack})",
            role_arn=role.arn,
            agent_runtime_artifact={"container_configuration": {"container_uri": args.image.image_uri}},
            network_configuration={
                "network_mode": "VPC",
                "network_mode_config": {
                    "subnets": args.subnet_ids,
                    "security_groups": [args.security_group_id],
                },
            },
            protocol_configuration={"server_protocol": "HTTP"},
            lifecycle_configurations=[
                {
                    "idle_runtime_session_timeout": args.idle_session_timeout_seconds,
                    "max_lifetime": args.max_lifetime_seconds,
                }
            ],
            environment_variables=checked_environment(args.environment, args.platform_version),
            # Explicit: omitted, a new runtime gets V1 and an existing one keeps whatever it has.
            platform_version=args.platform_version.value,
            tags=tags.named("agent-runtime"),
            # AgentCore checks at creation that the role can pull the image: the policy must exist first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, *args.depends_on]),
        )
        endpoint = aws.bedrock.AgentcoreAgentRuntimeEndpoint(
            f"{name}-endpoint",
            name=ENDPOINT_NAME,
            agent_runtime_id=runtime.agent_runtime_id,
            # Follow every new runtime version, so an image change reaches callers of the endpoint.
            agent_runtime_version=runtime.agent_runtime_version,
            description="Deep Insight invocation endpoint",
            tags=tags.named("agent-endpoint"),
            opts=child,
        )
        retention = {
            endpoint_name: RuntimeLogRetention(
                f"{name}-log-retention-{endpoint_name.lower()}",
                RetentionArgs(
                    log_group_name=runtime.agent_runtime_id.apply(
                        lambda rid, e=endpoint_name: runtime_log_group_name(rid, e)
                    ),
                    days=args.log_retention_days,
                    region=args.region,
                    account_id=args.account_id,
                ),
                # After the runtime and its endpoint exist: AgentCore may create the group at any point from
                # there, and either order ends with the group and its retention (create-if-missing).
                opts=pulumi.ResourceOptions(parent=self, depends_on=[endpoint]),
            )
            for endpoint_name in RETAINED_ENDPOINTS
        }
        self.runtime_arn = runtime.agent_runtime_arn
        self.runtime_id = runtime.agent_runtime_id
        self.endpoint_arn = endpoint.agent_runtime_endpoint_arn
        self.role_arn = role.arn
        self.log_group_name = retention[ENDPOINT_NAME].log_group_name
        self.register_outputs(
            {
                "agentRuntimeArn": self.runtime_arn,
                "agentRuntimeId": self.runtime_id,
                "agentRuntimeEndpointArn": self.endpoint_arn,
                "agentRoleArn": self.role_arn,
                "agentLogGroup": self.log_group_name,
            }
        )
