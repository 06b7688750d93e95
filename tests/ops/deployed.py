"""A deployed stack in moto: what `pulumi up` of a stack creates, made with boto3, and its outputs.

`deploy("dev")` reads ``Pulumi.dev.yaml`` and builds from the program's own pure pieces (subnet plan,
zone choice, security paths, container definitions, bucket policy, names), so the result follows the
program rather than a copy of it. `Faults` holds the departures from a healthy stack that AWS (or moto)
only allows at creation; everything else a test breaks afterwards with boto3, as drift would.

Where moto differs from AWS, the stand-in is documented at the spot:
* ``create_service_linked_role`` in moto names the role ``AWSServiceRoleForbedrock-agentcore_Network``,
  not AWS's ``AWSServiceRoleForBedrockAgentCoreNetwork``: the role is made with ``create_role`` under the
  service-linked path instead.
* AgentCore's ENIs are made with ``create_network_interface`` in the runtime's subnets behind its
  security groups, tagged ``AmazonBedrockAgentCoreManaged=true``: the one mark AgentCore's service-linked
  role must set (its managed policy allows CreateNetworkInterface only with that request tag), and what
  `ops.verify` keys on. Moto cannot fake the requester (its ENIs are never requester-managed).
* moto's ECR digest is a hash of the layer digests, not of the manifest; outputs use the digest ECR
  reports, as pulumi-docker's ``repo_digest`` does.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from deep_insight_agent.executor_session import target_group_name
from deep_insight_contract.outputs import OUTPUT_NAMES
from deep_insight_contract.session import ROUTING_HEADER, routing_key
from deep_insight_contract.tags import CREATED_TAG, SESSION_TAG, STACK_TAG
from deep_insight_contract.target_group import target_group_prefix

from components.addressing import carve_subnets
from components.agent_runtime import ENDPOINT_NAME, RETAINED_ENDPOINTS
from components.alb import ACCESS_LOG_PREFIX, IDLE_TIMEOUT_SECONDS, NO_ROUTE_BODY
from components.bucket import bucket_prefix
from components.cluster import executor_container_definitions
from components.endpoints import service_name
from components.iam import agentcore_trust, ecs_tasks_trust, tls_only_bucket_policy
from components.log_retention import ensure_retention, runtime_log_group_name
from components.network import nat_zone_for
from components.runtime_contract import EXECUTOR_CONTAINER, agentcore_runtime_name
from components.security import INTERNET, Group, Peer, paths
from components.settings import Architecture, NatStrategy
from components.zones import select_zone_ids
from ops.stack import read_settings

PARTITION = "aws"
# AWS's names, written out here rather than taken from ops.verify, so that the tests check its spelling.
SERVICE_LINKED_ROLE = "AWSServiceRoleForBedrockAgentCoreNetwork"
AGENTCORE_ENI_TAG = "AmazonBedrockAgentCoreManaged"


@dataclass(frozen=True)
class Faults:
    """Ways to deploy a broken stack where the property cannot be changed after creation."""

    private_zone_ids: tuple[str, ...] | None = None
    """Place the private subnets in these AZ IDs instead of the chosen ones."""
    alb_scheme: str = "internal"
    container_insights: str = "enabled"  # moto lacks UpdateClusterSettings
    architecture: Architecture | None = None
    """The task definition's CPU architecture, if not the configured one."""
    executor_image_tag: str | None = None
    """Run the executor image by this tag instead of by digest."""
    runtime_in_private_subnets: bool = False
    """Give the AgentCore runtime the private subnets (its ENIs follow) instead of the agent subnets."""
    private_dns_off: tuple[str, ...] = ()
    """Interface endpoints created without private DNS (moto ignores ModifyVpcEndpoint PrivateDnsEnabled)."""
    service_linked_role: bool = True
    agent_log_retention: bool = True
    """Whether `pulumi up`'s log-retention step ran (False: AgentCore's group not made yet, no retention)."""


@dataclass
class Deployed:
    outputs: dict[str, Any]
    private_route_tables: list[str]
    s3_endpoint: str

    def write(self, path: Path) -> Path:
        """What `pulumi stack output --json > FILE` would write."""
        path.write_text(json.dumps(self.outputs, indent=2), encoding="utf-8")
        return path


@functools.cache
def shared_session() -> boto3.session.Session:
    """One session for the whole test run: a new one parses every service model again (~0.2 s a client)."""
    return boto3.session.Session()


def manifest(name: str) -> str:
    """A Docker image manifest with one layer of its own, so each image gets its own digest."""
    layer = "sha256:" + hashlib.sha256(f"{name}-layer".encode()).hexdigest()
    config = "sha256:" + hashlib.sha256(f"{name}-config".encode()).hexdigest()
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1469, "digest": config},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 28, "digest": layer}],
        }
    )


def tag_list(tags: dict[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in tags.items()]


def deploy(stack: str = "dev", faults: Faults = Faults()) -> Deployed:
    settings = read_settings(stack)
    region = settings.region
    tags = settings.resource_tags
    session = shared_session()
    ec2, elbv2, ecs, ecr, logs, s3, iam, agentcore = (
        session.client(service, region_name=region)
        for service in ("ec2", "elbv2", "ecs", "ecr", "logs", "s3", "iam", "bedrock-agentcore-control")
    )
    account = session.client("sts", region_name=region).get_caller_identity()["Account"]

    # --- network: the program's zone choice and subnet plan ---
    available = {z["ZoneName"]: z["ZoneId"] for z in ec2.describe_availability_zones()["AvailabilityZones"]}
    zone_ids = select_zone_ids(
        region,
        available,
        requested=settings.network.availability_zone_ids,
        count=settings.network.az_count,
        supported_override=settings.network.supported_az_ids,
    )
    vpc = ec2.create_vpc(
        CidrBlock=str(settings.network.cidr),
        TagSpecifications=[{"ResourceType": "vpc", "Tags": tag_list(tags.named("vpc"))}],
    )["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})

    def subnet(tier: str, zone: str, cidr: object) -> str:
        return ec2.create_subnet(
            VpcId=vpc,
            CidrBlock=str(cidr),
            AvailabilityZoneId=zone,
            TagSpecifications=[{"ResourceType": "subnet", "Tags": tag_list(tags.named(f"{tier}-{zone}"))}],
        )["Subnet"]["SubnetId"]

    plan = carve_subnets(settings.network.cidr, len(zone_ids))
    private_zones = faults.private_zone_ids or zone_ids
    private = [subnet("private", z, c.private) for z, c in zip(private_zones, plan, strict=True)]
    agent = [subnet("agent", z, c.agent) for z, c in zip(zone_ids, plan, strict=True)]

    nats: dict[str, str] = {}
    if settings.network.nat_gateways is not NatStrategy.NONE:
        public = {z: subnet("public", z, c.public) for z, c in zip(zone_ids, plan, strict=True)}
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        public_table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=public_table, DestinationCidrBlock=INTERNET, GatewayId=igw)
        for subnet_id in public.values():
            ec2.associate_route_table(RouteTableId=public_table, SubnetId=subnet_id)
        for index in range(len(zone_ids)):
            zone = nat_zone_for(index, zone_ids, settings.network.nat_gateways)
            if zone is not None and zone not in nats:
                allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
                nats[zone] = ec2.create_nat_gateway(SubnetId=public[zone], AllocationId=allocation)["NatGateway"][
                    "NatGatewayId"
                ]
    tables: list[str] = []
    for index in range(len(zone_ids)):
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        tables.append(table)
        nat_zone = nat_zone_for(index, zone_ids, settings.network.nat_gateways)
        if nat_zone is not None:
            ec2.create_route(RouteTableId=table, DestinationCidrBlock=INTERNET, NatGatewayId=nats[nat_zone])
        for subnet_id in (private[index], agent[index]):
            ec2.associate_route_table(RouteTableId=table, SubnetId=subnet_id)

    # --- security groups: exactly components.security.paths, default egress removed as the provider does ---
    s3_list = ec2.describe_managed_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": [service_name(region, "s3")]}]
    )["PrefixLists"][0]["PrefixListId"]
    groups: dict[Group, str] = {}
    for group in Group:
        groups[group] = ec2.create_security_group(
            GroupName=f"{tags.prefix}-{group.value}", Description=f"Deep Insight {group.value}", VpcId=vpc
        )["GroupId"]
        ec2.revoke_security_group_egress(
            GroupId=groups[group], IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": INTERNET}]}]
        )
    # One call per group and direction: AWS takes a list of permissions, and moto answers each call in ~10 ms.
    ingress: dict[Group, list[dict[str, Any]]] = {}
    egress: dict[Group, list[dict[str, Any]]] = {}
    for path in paths(
        nat=settings.network.nat_gateways is not NatStrategy.NONE,
        executor_internet_access=settings.executor.internet_access,
    ):
        rule: dict[str, Any] = {"IpProtocol": "tcp", "FromPort": path.port, "ToPort": path.port}
        if isinstance(path.target, Group):
            pair = {"GroupId": groups[path.source], "Description": path.why}
            ingress.setdefault(path.target, []).append({**rule, "UserIdGroupPairs": [pair]})
            rule["UserIdGroupPairs"] = [{"GroupId": groups[path.target], "Description": path.why}]
        elif path.target is Peer.S3:
            rule["PrefixListIds"] = [{"PrefixListId": s3_list, "Description": path.why}]
        else:
            rule["IpRanges"] = [{"CidrIp": INTERNET, "Description": path.why}]
        egress.setdefault(path.source, []).append(rule)
    for group, permissions in ingress.items():
        ec2.authorize_security_group_ingress(GroupId=groups[group], IpPermissions=permissions)
    for group, permissions in egress.items():
        ec2.authorize_security_group_egress(GroupId=groups[group], IpPermissions=permissions)

    # --- endpoints ---
    endpoints = {
        "s3": ec2.create_vpc_endpoint(
            VpcId=vpc, ServiceName=service_name(region, "s3"), VpcEndpointType="Gateway", RouteTableIds=tables
        )["VpcEndpoint"]["VpcEndpointId"]
    }
    for suffix in settings.network.interface_endpoints:
        endpoints[suffix] = ec2.create_vpc_endpoint(
            VpcId=vpc,
            ServiceName=service_name(region, suffix),
            VpcEndpointType="Interface",
            PrivateDnsEnabled=suffix not in faults.private_dns_off,
            SubnetIds=private,
            SecurityGroupIds=[groups[Group.ENDPOINTS]],
        )["VpcEndpoint"]["VpcEndpointId"]

    # --- artifacts bucket ---
    bucket = bucket_prefix(tags.prefix, "artifacts") + "20261124000000000000000001"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(tls_only_bucket_policy(f"arn:{PARTITION}:s3:::{bucket}")))

    # --- images: one repository each, the pushed digest is what dependents get ---
    uris: dict[str, str] = {}
    for runtime in ("executor", "agent"):
        repository = ecr.create_repository(
            repositoryName=f"{tags.prefix}-{runtime}",
            imageTagMutability="MUTABLE",
            imageScanningConfiguration={"scanOnPush": True},
            encryptionConfiguration={"encryptionType": "AES256"},
        )["repository"]
        pushed = ecr.put_image(
            repositoryName=repository["repositoryName"], imageManifest=manifest(runtime), imageTag="0123456789abcdef"
        )["image"]["imageId"]
        uris[runtime] = f"{repository['repositoryUri']}@{pushed['imageDigest']}"

    # --- executor cluster ---
    executor_logs = f"/deep-insight/{stack}/executor"
    logs.create_log_group(logGroupName=executor_logs, tags=tags.named("executor-logs"))
    logs.put_retention_policy(logGroupName=executor_logs, retentionInDays=settings.log_retention_days)
    cluster = ecs.create_cluster(
        clusterName=tags.prefix, settings=[{"name": "containerInsights", "value": faults.container_insights}]
    )["cluster"]
    roles = {
        name: iam.create_role(
            RoleName=f"{tags.prefix}-{name}",
            AssumeRolePolicyDocument=json.dumps(
                ecs_tasks_trust(partition=PARTITION, region=region, account_id=account)
            ),
        )["Role"]["Arn"]
        for name in ("executor-execution", "executor-task")
    }
    image = uris["executor"]
    if faults.executor_image_tag is not None:
        image = f"{image.split('@')[0]}:{faults.executor_image_tag}"
    architecture = faults.architecture or settings.executor.architecture
    family = f"{tags.prefix}-executor"
    task_definition = ecs.register_task_definition(
        family=family,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu=str(settings.executor.cpu),
        memory=str(settings.executor.memory),
        runtimePlatform={
            "operatingSystemFamily": "LINUX",
            "cpuArchitecture": "ARM64" if architecture is Architecture.ARM64 else "X86_64",
        },
        executionRoleArn=roles["executor-execution"],
        taskRoleArn=roles["executor-task"],
        containerDefinitions=executor_container_definitions(
            image_uri=image,
            region=region,
            log_group=executor_logs,
            bucket_name=bucket,
            memory=settings.executor.memory,
            session_timeout_seconds=settings.executor.session_timeout_seconds,
        ),
        volumes=[{"name": "workspace"}, {"name": "tmp"}],
        tags=tag_list(tags.named("executor-task"), "key", "value"),
    )["taskDefinition"]["taskDefinitionArn"]

    # --- internal ALB ---
    alb = elbv2.create_load_balancer(
        Name=f"{tags.prefix}-alb",
        Subnets=private,
        SecurityGroups=[groups[Group.ALB]],
        Scheme=faults.alb_scheme,
        Type="application",
        Tags=tag_list(tags.named("alb")),
    )["LoadBalancers"][0]
    attributes = {
        "idle_timeout.timeout_seconds": str(IDLE_TIMEOUT_SECONDS),
        "routing.http.drop_invalid_header_fields.enabled": "true",
        "deletion_protection.enabled": str(settings.alb.deletion_protection).lower(),
    }
    if settings.alb.access_logs:
        log_bucket = bucket_prefix(tags.prefix, "alb-logs") + "20261124000000000000000002"
        s3.create_bucket(Bucket=log_bucket)
        attributes |= {
            "access_logs.s3.enabled": "true",
            "access_logs.s3.bucket": log_bucket,
            "access_logs.s3.prefix": ACCESS_LOG_PREFIX,
        }
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=alb["LoadBalancerArn"], Attributes=[{"Key": k, "Value": v} for k, v in attributes.items()]
    )
    listener = elbv2.create_listener(
        LoadBalancerArn=alb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {
                    "StatusCode": "404",
                    "ContentType": "application/json",
                    "MessageBody": NO_ROUTE_BODY,
                },
            }
        ],
    )["Listeners"][0]["ListenerArn"]

    # --- AgentCore: the service-linked role, the runtime, its endpoint, its ENIs, its log groups ---
    if faults.service_linked_role:
        iam.create_role(
            RoleName=SERVICE_LINKED_ROLE,
            Path="/aws-service-role/network.bedrock-agentcore.amazonaws.com/",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "network.bedrock-agentcore.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )
    agent_role = iam.create_role(
        RoleName=f"{tags.prefix}-agent",
        AssumeRolePolicyDocument=json.dumps(agentcore_trust(partition=PARTITION, region=region, account_id=account)),
    )["Role"]["Arn"]
    runtime_subnets = private if faults.runtime_in_private_subnets else agent
    runtime = agentcore.create_agent_runtime(
        agentRuntimeName=agentcore_runtime_name(stack),
        description=f"Deep Insight multi-agent analysis ({stack})",
        agentRuntimeArtifact={"containerConfiguration": {"containerUri": uris["agent"]}},
        roleArn=agent_role,
        networkConfiguration={
            "networkMode": "VPC",
            "networkModeConfig": {"subnets": runtime_subnets, "securityGroups": [groups[Group.AGENT]]},
        },
        protocolConfiguration={"serverProtocol": "HTTP"},
        lifecycleConfiguration={
            "idleRuntimeSessionTimeout": settings.agent.idle_session_timeout_seconds,
            "maxLifetime": settings.agent.max_lifetime_seconds,
        },
        environmentVariables={"DEEP_INSIGHT_STACK": stack},
        tags=tags.named("agent-runtime"),
    )
    endpoint = agentcore.create_agent_runtime_endpoint(
        agentRuntimeId=runtime["agentRuntimeId"],
        name=ENDPOINT_NAME,
        agentRuntimeVersion=runtime["agentRuntimeVersion"],
        description="Deep Insight invocation endpoint",
    )
    for subnet_id in runtime_subnets:
        ec2.create_network_interface(
            SubnetId=subnet_id,
            Groups=[groups[Group.AGENT]],
            Description=f"AgentCore Runtime {runtime['agentRuntimeId']}",
            TagSpecifications=[
                {"ResourceType": "network-interface", "Tags": [{"Key": AGENTCORE_ENI_TAG, "Value": "true"}]}
            ],
        )
    # AgentCore makes its DEFAULT endpoint's group itself, without retention; the program only gives the
    # retained endpoints' groups the stack's retention, with its own function (components.log_retention).
    logs.create_log_group(logGroupName=runtime_log_group_name(runtime["agentRuntimeId"], "DEFAULT"))
    if faults.agent_log_retention:
        for endpoint_name in RETAINED_ENDPOINTS:
            name = runtime_log_group_name(runtime["agentRuntimeId"], endpoint_name)
            ensure_retention(logs, name, settings.log_retention_days)

    outputs: dict[str, Any] = {
        "region": region,
        "vpcId": vpc,
        "availabilityZoneIds": list(zone_ids),
        "privateSubnetIds": private,
        "agentSubnetIds": agent,
        "securityGroupIds": {group.value: group_id for group, group_id in groups.items()},
        "endpointIds": endpoints,
        "albArn": alb["LoadBalancerArn"],
        "albDnsName": alb["DNSName"],
        "listenerArn": listener,
        "clusterName": cluster["clusterName"],
        "clusterArn": cluster["clusterArn"],
        "executorTaskDefinitionArn": task_definition,
        "executorTaskFamily": family,
        "executorContainerName": EXECUTOR_CONTAINER,
        "executorLogGroup": executor_logs,
        "artifactBucket": bucket,
        "executorImageUri": uris["executor"],
        "agentImageUri": uris["agent"],
        "agentRuntimeArn": runtime["agentRuntimeArn"],
        "agentRuntimeId": runtime["agentRuntimeId"],
        "agentRuntimeEndpointArn": endpoint["agentRuntimeEndpointArn"],
        "agentRoleArn": agent_role,
        "agentLogGroup": runtime_log_group_name(runtime["agentRuntimeId"], ENDPOINT_NAME),
    }
    assert set(outputs) == set(OUTPUT_NAMES), "deployed.py must give every SPEC §5 output"
    return Deployed(outputs, tables, endpoints["s3"])


def leave_session(d: Deployed, session: str, age: timedelta, *, stack: str = "dev", task: bool = True) -> None:
    """What a crashed agent runtime leaves behind: a tagged target group, header rule and task."""
    out = d.outputs
    elbv2 = shared_session().client("elbv2", region_name=out["region"])
    created = (datetime.now(UTC) - age).strftime("%Y-%m-%dT%H:%M:%SZ")
    tags = {STACK_TAG: stack, SESSION_TAG: session, CREATED_TAG: created}
    group = elbv2.create_target_group(
        Name=target_group_name(target_group_prefix(stack), session), Protocol="HTTP", Port=8080,
        VpcId=out["vpcId"], TargetType="ip", Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )["TargetGroups"][0]["TargetGroupArn"]  # fmt: skip
    if not task:
        return
    taken = {r["Priority"] for r in elbv2.describe_rules(ListenerArn=out["listenerArn"])["Rules"]}
    elbv2.create_rule(
        ListenerArn=out["listenerArn"], Priority=next(p for p in range(1, 100) if str(p) not in taken),
        Conditions=[{"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": ROUTING_HEADER, "Values": [routing_key(session)]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": group}], Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )  # fmt: skip
    shared_session().client("ecs", region_name=out["region"]).run_task(
        cluster=out["clusterArn"], taskDefinition=out["executorTaskDefinitionArn"], launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": out["privateSubnetIds"], "securityGroups": [out["securityGroupIds"]["executor"]]}},
        tags=[{"key": k, "value": v} for k, v in tags.items()],
    )  # fmt: skip
