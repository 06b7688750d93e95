"""Deep Insight on AWS: one stack per environment (Pulumi.<stack>.yaml).

settings -> network -> security -> bucket/images -> cluster/ALB -> session sweeper -> agent runtime -> analyst
policy -> endpoints (their policies follow the roles of the parts inside the VPC) -> exports
"""

import json
from pathlib import Path

import pulumi
import pulumi_aws as aws
from deep_insight_contract.environment import AgentEnv
from deep_insight_contract.outputs import in_contract_order
from deep_insight_contract.storage import SESSIONS_PREFIX
from deep_insight_contract.target_group import SessionTargetGroupTemplate, target_group_prefix

from components import locked_requirements
from components.agent_runtime import AgentRuntime, AgentRuntimeArgs
from components.alb import ACCESS_LOG_PREFIX, AlbArgs, InternalAlb
from components.analyst_policy import AnalystPolicy, AnalystPolicyArgs
from components.bucket import BucketArgs, PrivateBucket
from components.cluster import ExecutorCluster, ExecutorClusterArgs
from components.codebuild_image import SOURCES_EXPIRE_AFTER_DAYS, RemoteBuild
from components.endpoints import Endpoints, EndpointsArgs
from components.errors import ConfigError
from components.iam import ImagePuller, access_log_bucket_policy, model_statements, tls_only_bucket_policy
from components.image import ContainerImage, ImageArgs
from components.locked_requirements import RUNTIMES
from components.network import Network, NetworkArgs
from components.runtime_contract import agentcore_runtime_name
from components.runtime_platform import environment_config_problems
from components.security import Group, SecurityArgs, SecurityGroups
from components.settings import Architecture, ImageBuild, NatStrategy, Settings, key, read_settings
from components.sweeper import SessionCleanup, SweeperArgs
from components.zones import select_zone_ids

PROJECT_DIR = Path(__file__).resolve().parent


def available_zones(region: str) -> dict[str, str]:
    """AZ name -> AZ ID of the account's regular AZs (no Local or Wavelength Zones)."""
    zones = aws.get_availability_zones(
        state="available",
        filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
    )
    return dict(zip(zones.names, zones.zone_ids, strict=True))


def known_agent_environment(settings: Settings) -> dict[str, str]:
    """The agent's environment that settings alone decide (SPEC §7); the rest are resource ids and ARNs."""
    return {
        AgentEnv.AWS_REGION: settings.region,
        AgentEnv.STACK: settings.stack,
        AgentEnv.MODEL_ID: settings.agent.model_id,
        AgentEnv.AGENT_MODELS: json.dumps(dict(settings.agent.models), sort_keys=True),
        AgentEnv.MAX_SESSIONS: str(settings.executor.max_sessions),
        AgentEnv.SESSION_TARGET_GROUP: SessionTargetGroupTemplate(
            name_prefix=target_group_prefix(settings.stack)
        ).to_json(),
        AgentEnv.EXECUTOR_SESSION_TIMEOUT_SECONDS: str(settings.executor.session_timeout_seconds),
    }


def check_agent_environment(settings: Settings) -> None:
    """The runtime's environment against agent.platformVersion's budget, as far as settings decide it."""
    known: dict[str, str | None] = {**dict.fromkeys(map(str, AgentEnv)), **known_agent_environment(settings)}
    problems = environment_config_problems(
        known,
        settings.agent.platform_version,
        sources={
            AgentEnv.MODEL_ID: key("agent.modelId"),
            AgentEnv.AGENT_MODELS: key("agent.models"),
            AgentEnv.MAX_SESSIONS: key("executor.maxSessions"),
            AgentEnv.EXECUTOR_SESSION_TIMEOUT_SECONDS: key("executor.sessionTimeoutSeconds"),
        },
        version_key=key("agent.platformVersion"),
    )
    if problems:
        raise ConfigError(problems)


def resolve_configuration() -> tuple[Settings, tuple[str, ...]]:
    """Validate every setting, then pick the AZs, before any resource is declared."""
    try:
        settings = read_settings()
        check_agent_environment(settings)
        zone_ids = select_zone_ids(
            settings.region,
            available_zones(settings.region),
            requested=settings.network.availability_zone_ids,
            count=settings.network.az_count,
            supported_override=settings.network.supported_az_ids,
        )
    except ConfigError as error:
        # RunError: the CLI prints the message alone, one line per bad key, with no traceback.
        raise pulumi.RunError(f"invalid stack configuration:\n{error}") from None
    if settings.images.build is not ImageBuild.PREBUILT:
        # An image installs its runtime's requirements.lock: one that uv.lock has moved past would ship
        # versions no test ran with.
        stale = [p for runtime in RUNTIMES if (p := locked_requirements.stale(PROJECT_DIR, runtime))]
        if stale:
            raise pulumi.RunError("\n".join(stale))
    return settings, zone_ids


# --- settings ---
settings, zone_ids = resolve_configuration()
tags = settings.resource_tags
account_id = aws.get_caller_identity().account_id
partition = aws.get_partition().partition
retain = settings.retain_data

# --- network ---
network = Network(
    "network",
    NetworkArgs(cidr=settings.network.cidr, zone_ids=zone_ids, nat_gateways=settings.network.nat_gateways, tags=tags),
)

# --- security ---
s3_prefix_list = aws.ec2.get_managed_prefix_list_output(name=f"com.amazonaws.{settings.region}.s3")
security = SecurityGroups(
    "security",
    SecurityArgs(
        vpc_id=network.vpc_id,
        s3_prefix_list_id=s3_prefix_list.id,
        nat=settings.network.nat_gateways is not NatStrategy.NONE,
        executor_internet_access=settings.executor.internet_access,
        tags=tags,
    ),
)

# --- storage and images ---
artifacts = PrivateBucket(
    "artifacts",
    BucketArgs(
        purpose="artifacts",
        tags=tags,
        retain=retain,
        versioning=retain,
        policy=tls_only_bucket_policy,
        expire_prefix=SESSIONS_PREFIX,
        expire_after_days=settings.artifacts.expire_after_days,
    ),
)


build_sources = None
remote_build = None
if settings.images.build is ImageBuild.CODEBUILD:
    # The build contexts CodeBuild reads: needed only while a build runs, so they expire after a day.
    build_sources = PrivateBucket(
        "build-sources",
        BucketArgs(
            purpose="build-sources",
            tags=tags,
            retain=False,
            versioning=False,
            policy=tls_only_bucket_policy,
            expire_after_days=SOURCES_EXPIRE_AFTER_DAYS,
        ),
    )
    remote_build = RemoteBuild(
        sources_bucket=build_sources.bucket_name,
        sources_bucket_arn=build_sources.bucket_arn,
        region=settings.region,
        account_id=account_id,
        log_retention_days=settings.log_retention_days,
    )


def container_image(runtime: str, platform: str, prebuilt_uri: str | None) -> ContainerImage:
    """``prebuilt_uri`` is set exactly when images.build is prebuilt (settings enforce it)."""
    return ContainerImage(
        f"{runtime}-image",
        ImageArgs(
            runtime=runtime,
            platform=platform,
            tags=tags,
            retain=retain,
            keep_last=settings.images.keep_last,
            project_dir=PROJECT_DIR,
            prebuilt_uri=prebuilt_uri,
            partition=partition,
            remote=remote_build,
        ),
    )


executor_image = container_image(
    "executor",
    "linux/arm64" if settings.executor.architecture is Architecture.ARM64 else "linux/amd64",
    settings.images.executor_image,
)
agent_image = container_image("agent", "linux/arm64", settings.images.agent_image)  # AgentCore: ARM64 only

# --- executor cluster and internal ALB ---
cluster = ExecutorCluster(
    "executor",
    ExecutorClusterArgs(
        region=settings.region,
        partition=partition,
        account_id=account_id,
        image_uri=executor_image.image_uri,
        image_pull=executor_image.pull_statements(ImagePuller.ECS),
        cpu=settings.executor.cpu,
        memory=settings.executor.memory,
        architecture=settings.executor.architecture,
        session_timeout_seconds=settings.executor.session_timeout_seconds,
        log_retention_days=settings.log_retention_days,
        tags=tags,
    ),
)
access_logs = None
if settings.alb.access_logs:
    elb_account_arn = aws.elb.get_service_account().arn
    access_logs = PrivateBucket(
        "alb-logs",
        BucketArgs(
            purpose="alb-logs",
            tags=tags,
            retain=retain,
            versioning=False,
            policy=lambda arn: access_log_bucket_policy(
                bucket_arn=arn, account_id=account_id, elb_account_arn=elb_account_arn, prefix=ACCESS_LOG_PREFIX
            ),
            expire_after_days=settings.log_retention_days,
        ),
    )
alb = InternalAlb(
    "alb",
    AlbArgs(
        subnet_ids=network.private_subnet_ids,
        security_group_id=security.group_ids[Group.ALB],
        deletion_protection=settings.alb.deletion_protection,
        access_log_bucket=access_logs.bucket_name if access_logs else None,
        access_log_policy=access_logs.policy if access_logs else None,
        tags=tags,
    ),
)
session_target_group = SessionTargetGroupTemplate(name_prefix=target_group_prefix(settings.stack))

# What the agent runtime is configured with (SPEC §7); the session sweeper reads the same.
agent_environment: dict[str, pulumi.Input[str]] = {
    **known_agent_environment(settings),
    AgentEnv.ARTIFACT_BUCKET: artifacts.bucket_name,
    AgentEnv.CLUSTER_ARN: cluster.cluster_arn,
    AgentEnv.TASK_DEFINITION_ARN: cluster.task_definition_arn,
    AgentEnv.EXECUTOR_CONTAINER: cluster.container_name,
    AgentEnv.SUBNET_IDS: network.private_subnet_ids.apply(",".join),
    AgentEnv.EXECUTOR_SECURITY_GROUP_ID: security.group_ids[Group.EXECUTOR],
    AgentEnv.VPC_ID: network.vpc_id,
    AgentEnv.LISTENER_ARN: alb.listener_arn,
    AgentEnv.ALB_DNS: alb.dns_name,
}

# --- executor sessions on destroy: swept after the runtime is gone, before cluster, listener, SG, subnets ---
sessions = SessionCleanup("sessions", SweeperArgs(environment=agent_environment, account_id=account_id))

# --- agent runtime ---
runtime_name = agentcore_runtime_name(settings.stack)
agent = AgentRuntime(
    "agent",
    AgentRuntimeArgs(
        runtime_name=runtime_name,
        image=agent_image,
        subnet_ids=network.agent_subnet_ids,
        security_group_id=security.group_ids[Group.AGENT],
        environment=agent_environment,
        idle_session_timeout_seconds=settings.agent.idle_session_timeout_seconds,
        max_lifetime_seconds=settings.agent.max_lifetime_seconds,
        log_retention_days=settings.log_retention_days,
        # What the agent uses, each granted by what it uses: one line per dependency.
        statements=[
            # Every model an agent may call (agent.modelId and agent.models), each its own grant.
            *[
                model_statements(model, partition=partition, region=settings.region, account_id=account_id, sid=n)
                for n, model in enumerate(settings.agent.model_ids)
            ],
            cluster.run_task_statements(),
            alb.session_routing_statements(settings.stack, session_target_group.name_prefix),
            artifacts.session_object_statements(),
        ],
        partition=partition,
        region=settings.region,
        account_id=account_id,
        tags=tags,
        platform_version=settings.agent.platform_version,
        # Created after the sweeper, so deleted before it: no new session starts once the sweep begins.
        depends_on=[sessions.sweeper],
    ),
)

# --- what a person using the stack may do (invoke, console --stack): a policy an administrator attaches ---
analyst = AnalystPolicy(
    "analyst",
    AnalystPolicyArgs(statements=[agent.invoke_statements(), artifacts.analyst_session_statements()], tags=tags),
)

# --- endpoints: they let through what the roles acting from inside the VPC may do, for this account only ---
endpoints = Endpoints(
    "endpoints",
    EndpointsArgs(
        region=settings.region,
        vpc_id=network.vpc_id,
        subnet_ids=network.private_subnet_ids,
        zones=settings.network.endpoint_zones,
        route_table_ids=network.private_route_table_ids,
        security_group_id=security.group_ids[Group.ENDPOINTS],
        interface_services=settings.interface_endpoints,
        # The agent runtime's ENIs and the executor's tasks. The task has no role; what it fetches with the
        # agent's presigned URLs is authorized as the agent's role.
        grants=[agent.role_statements(), cluster.execution_role_statements()],
        partition=partition,
        account_id=account_id,
        tags=tags,
    ),
)

# --- exports: exactly the outputs of deep_insight_contract.outputs.StackOutputs (SPEC §5), in its order ---
for output_name, value in in_contract_order(
    {
        "region": settings.region,
        "vpcId": network.vpc_id,
        "availabilityZoneIds": list(network.zone_ids),
        "privateSubnetIds": network.private_subnet_ids,
        "agentSubnetIds": network.agent_subnet_ids,
        "securityGroupIds": {group.value: sg_id for group, sg_id in security.group_ids.items()},
        "endpointIds": dict(endpoints.endpoint_ids),
        "albArn": alb.arn,
        "albDnsName": alb.dns_name,
        "listenerArn": alb.listener_arn,
        "clusterName": cluster.cluster_name,
        "clusterArn": cluster.cluster_arn,
        "executorTaskDefinitionArn": cluster.task_definition_arn,
        "executorTaskFamily": cluster.task_family,
        "executorContainerName": cluster.container_name,
        "executorLogGroup": cluster.log_group_name,
        "artifactBucket": artifacts.bucket_name,
        "executorImageUri": executor_image.image_uri,
        "agentImageUri": agent_image.image_uri,
        "agentRuntimeArn": agent.runtime_arn,
        "agentRuntimeId": agent.runtime_id,
        "agentRuntimeEndpointArn": agent.endpoint_arn,
        "agentRoleArn": agent.role_arn,
        "agentLogGroup": agent.log_group_name,
        "analystPolicyArn": analyst.policy_arn,
    }
):
    pulumi.export(output_name, value)
