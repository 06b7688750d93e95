"""``deep-insight verify``: check a deployed stack with boto3, one ✓/✗ line per check.

Expected values come from two places only: the stack's outputs (SPEC §5: which resources) and its own
``Pulumi.<stack>.yaml`` (how they should be: AZs, endpoints, retention, architecture...). Each check is a
small function over a shared `Context` returning ``(ok, reason)``; `CHECKS` lists them in architecture
order. A check whose AWS call fails is a ✗ carrying the AWS error, and the others still run; only
missing credentials or an unreachable endpoint stop the whole run (every check would fail the same way).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError
from deep_insight_agent.reaper import created_before, orphan_age, session_resources
from deep_insight_contract.tags import SESSION_TAG, STACK_TAG
from rich.text import Text

from components.agent_runtime import ENDPOINT_NAME
from components.endpoints import service_name
from components.image import TAG_MUTABILITY
from components.security import INTERNET, Group, Peer, paths
from components.settings import (
    DIGEST_URI_PATTERN,
    ECR_URI_PATTERN,
    Architecture,
    ImageBuild,
    NatStrategy,
    Settings,
)
from components.zones import AGENTCORE_SUPPORTED_AZ_IDS
from ops.console import FAILED, OpsError, aws_error_line, console, reports_errors
from ops.reap import ecs_settings
from ops.stack import aws_client, read_outputs, read_settings

Result = tuple[bool, str]

SERVICE_LINKED_ROLE = "AWSServiceRoleForBedrockAgentCoreNetwork"
# AgentCore's service-linked role may create an ENI only with this tag set to "true" (AWS managed policy
# BedrockAgentCoreNetworkServiceRolePolicy), so the tag, not a description or requester id, marks its ENIs.
AGENTCORE_ENI_TAG = "AmazonBedrockAgentCoreManaged"
AGENTCORE_PRINCIPAL = "bedrock-agentcore.amazonaws.com"
IPV6_INTERNET = "::/0"
# Interface endpoints and NAT gateways in these states are gone or going; AWS lists them for a while.
GONE_STATES = frozenset({"deleted", "deleting", "rejected", "failed", "expired"})


# --- the shared context: outputs, settings, lazily created clients, lookups several checks share ---


class Context:
    """What every check reads: the stack's outputs and settings, one boto3 client per service, and the
    lookups several checks share (cached properties: a failed lookup is not kept, so each check reports it)."""

    def __init__(self, stack: str, outputs: Mapping[str, Any], settings: Settings) -> None:
        self.stack = stack
        self.outputs = outputs
        self.settings = settings
        self.region: str = outputs["region"]
        self.vpc_id: str = outputs["vpcId"]
        self.private_subnets: list[str] = list(outputs["privateSubnetIds"])
        self.agent_subnets: list[str] = list(outputs["agentSubnetIds"])
        self.groups: Mapping[str, str] = outputs["securityGroupIds"]
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = aws_client(service, self.region)
        return self._clients[service]

    def pages(self, service: str, operation: str, key: str, **kwargs: Any) -> list[Any]:
        paginator = self.client(service).get_paginator(operation)
        return [item for page in paginator.paginate(**kwargs) for item in page.get(key, [])]

    def in_vpc(self, operation: str, key: str) -> list[Any]:
        """An EC2 describe call for this VPC only, every page."""
        return self.pages("ec2", operation, key, Filters=[{"Name": "vpc-id", "Values": [self.vpc_id]}])

    @cached_property
    def subnets(self) -> dict[str, dict[str, Any]]:
        ids = self.private_subnets + self.agent_subnets
        return {s["SubnetId"]: s for s in self.pages("ec2", "describe_subnets", "Subnets", SubnetIds=ids)}

    @cached_property
    def route_tables(self) -> dict[str, dict[str, Any]]:
        return {t["RouteTableId"]: t for t in self.in_vpc("describe_route_tables", "RouteTables")}

    def table_of(self, subnet_id: str) -> dict[str, Any]:
        """The route table a subnet uses: its explicit association, else the VPC's main table."""
        tables = self.route_tables.values()
        associated = [t for t in tables for a in t.get("Associations", []) if a.get("SubnetId") == subnet_id]
        main = [t for t in tables for a in t.get("Associations", []) if a.get("Main")]
        return (associated or main or [{"RouteTableId": "none"}])[0]

    @cached_property
    def vpc_endpoints(self) -> list[dict[str, Any]]:
        endpoints = self.in_vpc("describe_vpc_endpoints", "VpcEndpoints")
        return [e for e in endpoints if str(e.get("State", "")).lower() not in GONE_STATES]

    @cached_property
    def vpc_groups(self) -> dict[str, str]:
        """Security group id → name, for every group in the VPC."""
        return {
            g["GroupId"]: g.get("GroupName", g["GroupId"])
            for g in self.in_vpc("describe_security_groups", "SecurityGroups")
        }

    @cached_property
    def rules(self) -> list[dict[str, Any]]:
        """Every rule of every security group in the VPC."""
        filters = [{"Name": "group-id", "Values": list(self.vpc_groups)}]
        return self.pages("ec2", "describe_security_group_rules", "SecurityGroupRules", Filters=filters)

    @cached_property
    def runtime(self) -> dict[str, Any]:
        control = self.client("bedrock-agentcore-control")
        return control.get_agent_runtime(agentRuntimeId=self.outputs["agentRuntimeId"])

    @cached_property
    def task_definition(self) -> dict[str, Any]:
        arn = self.outputs["executorTaskDefinitionArn"]
        return self.client("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"]

    def group_name(self, group_id: str) -> str:
        """Our role name (``agent``) for our groups, the group id otherwise."""
        return next((role for role, gid in self.groups.items() if gid == group_id), group_id)


@dataclass(frozen=True)
class Check:
    label: str
    run: Callable[[Context], Result]


CHECKS: list[Check] = []


def check(label: str) -> Callable[[Callable[[Context], Result]], Callable[[Context], Result]]:
    """Register a check; `CHECKS` keeps the order of definition."""

    def register(function: Callable[[Context], Result]) -> Callable[[Context], Result]:
        CHECKS.append(Check(label, function))
        return function

    return register


def listing(items: Iterable[str]) -> str:
    return ", ".join(items) or "none"


def verdict(problems: Sequence[str], success: str) -> Result:
    return (False, "; ".join(problems)) if problems else (True, success)


def short_digest(uri: str) -> str:
    """``sha256:`` and 12 hex digits, as `docker images --digests` abbreviates."""
    return uri.rpartition("@")[2][:19]


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


# --- network ---


@check("VPC DNS")
def vpc_dns(ctx: Context) -> Result:
    ec2 = ctx.client("ec2")
    support = ec2.describe_vpc_attribute(VpcId=ctx.vpc_id, Attribute="enableDnsSupport")["EnableDnsSupport"]
    hostnames = ec2.describe_vpc_attribute(VpcId=ctx.vpc_id, Attribute="enableDnsHostnames")["EnableDnsHostnames"]
    off = [name for name, value in (("DNS support", support), ("DNS hostnames", hostnames)) if not value.get("Value")]
    if off:
        return False, (
            f"{ctx.vpc_id} has {' and '.join(off)} off; interface endpoints' private DNS and ECS awsvpc tasks "
            "need both (pulumi up restores them)"
        )
    return True, f"{ctx.vpc_id} has DNS support and DNS hostnames enabled"


@check("Subnets")
def subnets(ctx: Context) -> Result:
    network = ctx.settings.network
    supported = set(network.supported_az_ids or AGENTCORE_SUPPORTED_AZ_IDS.get(ctx.region, ()))
    zones = sorted(ctx.outputs["availabilityZoneIds"])
    problems: list[str] = []
    if network.availability_zone_ids is not None and sorted(network.availability_zone_ids) != zones:
        problems.append(
            f"availabilityZoneIds output is {listing(zones)}, network.availabilityZoneIds is "
            f"{listing(sorted(network.availability_zone_ids))}"
        )
    elif network.availability_zone_ids is None and len(zones) != network.az_count:
        problems.append(f"{len(zones)} AZs deployed, network.azCount is {network.az_count}")
    found = ctx.subnets
    for tier, ids in (("private", ctx.private_subnets), ("agent", ctx.agent_subnets)):
        placed: list[str] = []
        for subnet_id in ids:
            subnet = found.get(subnet_id)
            if subnet is None:
                problems.append(f"{tier} subnet {subnet_id} not found")
                continue
            zone = subnet.get("AvailabilityZoneId", "?")
            placed.append(zone)
            if subnet.get("VpcId") != ctx.vpc_id:
                problems.append(f"{tier} subnet {subnet_id} is in {subnet.get('VpcId')}, not {ctx.vpc_id}")
            if zone not in supported:
                problems.append(
                    f"{tier} subnet {subnet_id} is in {zone}, which AgentCore does not support in {ctx.region} "
                    f"(supported: {listing(sorted(supported))})"
                )
        if sorted(placed) != zones:
            problems.append(f"{tier} subnets are in {listing(sorted(placed))}, availabilityZoneIds is {listing(zones)}")
    return verdict(
        problems,
        f"{len(ctx.private_subnets)} private + {len(ctx.agent_subnets)} agent subnets, one each in "
        f"{listing(zones)} (AgentCore-supported AZ IDs)",
    )


@check("NAT gateways")
def nat_gateways(ctx: Context) -> Result:
    strategy = ctx.settings.network.nat_gateways
    gateways = [g for g in ctx.in_vpc("describe_nat_gateways", "NatGateways") if g.get("State") not in GONE_STATES]
    available = {g["NatGatewayId"] for g in gateways if g.get("State") == "available"}
    expected = {NatStrategy.NONE: 0, NatStrategy.SINGLE: 1, NatStrategy.PER_AZ: len(ctx.private_subnets)}[strategy]
    problems: list[str] = []
    if len(gateways) != expected:
        problems.append(f"{len(gateways)} NAT gateways, expected {expected} (network.natGateways {strategy.value})")
    problems += [f"{g['NatGatewayId']} is {g.get('State')}" for g in gateways if g["NatGatewayId"] not in available]
    for subnet_id in ctx.private_subnets:
        routes = ctx.table_of(subnet_id).get("Routes", [])
        default = [r for r in routes if r.get("DestinationCidrBlock") == INTERNET]
        target = default[0].get("NatGatewayId") if default else None
        if strategy is NatStrategy.NONE and default:
            problems.append(f"private subnet {subnet_id} has a default route, expected none (natGateways none)")
        elif strategy is not NatStrategy.NONE and target not in available:
            problems.append(f"private subnet {subnet_id} has no default route to an available NAT gateway")
    if strategy is NatStrategy.NONE:
        return verdict(problems, "none, and no default route from the private subnets (network.natGateways none)")
    return verdict(
        problems, f"{len(available)} available ({strategy.value}), default route of every private subnet through NAT"
    )


@check("Interface endpoints")
def interface_endpoints(ctx: Context) -> Result:
    wanted = ctx.settings.network.interface_endpoints
    by_service = {e.get("ServiceName"): e for e in ctx.vpc_endpoints if e.get("VpcEndpointType") == "Interface"}
    problems: list[str] = []
    for suffix in wanted:
        endpoint = by_service.get(service_name(ctx.region, suffix))
        if endpoint is None:
            problems.append(f"{suffix} missing")
            continue
        state = str(endpoint.get("State", "?"))
        if state.lower() != "available":
            problems.append(f"{suffix} is {state}")
        if not endpoint.get("PrivateDnsEnabled"):
            problems.append(f"{suffix} has private DNS off")
        if set(endpoint.get("SubnetIds", [])) != set(ctx.private_subnets):
            problems.append(f"{suffix} is not in exactly the private subnets")
        if ctx.groups[Group.ENDPOINTS.value] not in {g.get("GroupId") for g in endpoint.get("Groups", [])}:
            problems.append(f"{suffix} lacks the endpoints security group")
    if problems:
        return False, f"{'; '.join(problems)} (network.interfaceEndpoints: {listing(wanted)})"
    return True, f"{len(wanted)} available with private DNS in the private subnets: {listing(wanted)}"


@check("S3 gateway endpoint")
def s3_gateway(ctx: Context) -> Result:
    gateways = [
        e
        for e in ctx.vpc_endpoints
        if e.get("ServiceName") == service_name(ctx.region, "s3") and e.get("VpcEndpointType") == "Gateway"
    ]
    if not gateways:
        return False, f"no S3 gateway endpoint in {ctx.vpc_id}; AgentCore VPC mode and ECR image layers need one"
    on = {table for e in gateways for table in e.get("RouteTableIds", [])}
    tables = {subnet: ctx.table_of(subnet)["RouteTableId"] for subnet in ctx.private_subnets + ctx.agent_subnets}
    missing = [f"{subnet} ({table})" for subnet, table in tables.items() if table not in on]
    if missing:
        return False, f"{gateways[0]['VpcEndpointId']} is not on the route table of {listing(missing)}"
    return True, f"{gateways[0]['VpcEndpointId']} on the route tables of every private and agent subnet"


# --- security groups ---


def peer_of(ctx: Context, rule: Mapping[str, Any], s3_prefix_list: str | None) -> str:
    if "ReferencedGroupInfo" in rule:
        return ctx.group_name(rule["ReferencedGroupInfo"].get("GroupId", "?"))
    if rule.get("PrefixListId"):
        return Peer.S3.value if rule["PrefixListId"] == s3_prefix_list else rule["PrefixListId"]
    return rule.get("CidrIpv4") or rule.get("CidrIpv6") or "?"


def ports(rule: Mapping[str, Any]) -> str:
    protocol = {"6": "tcp", "17": "udp", "-1": "all"}.get(str(rule.get("IpProtocol")), str(rule.get("IpProtocol")))
    if protocol == "all":
        return "all traffic"
    low, high = rule.get("FromPort"), rule.get("ToPort")
    return f"{protocol}/{low}" if low == high else f"{protocol}/{low}-{high}"


@check("Open ingress")
def open_ingress(ctx: Context) -> Result:
    names = {**ctx.vpc_groups, **{gid: role for role, gid in ctx.groups.items()}}  # ours by role: "alb"
    open_rules = [
        f"{names.get(r['GroupId'], r['GroupId'])} group allows {ports(r)} from {r.get('CidrIpv4') or r.get('CidrIpv6')}"
        for r in ctx.rules
        if not r.get("IsEgress") and (r.get("CidrIpv4") == INTERNET or r.get("CidrIpv6") == IPV6_INTERNET)
    ]
    return verdict(open_rules, f"no ingress from 0.0.0.0/0 or ::/0 in any of the VPC's {len(names)} security groups")


@check("Security group rules")
def security_group_rules(ctx: Context) -> Result:
    lists = ctx.client("ec2").describe_managed_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": [service_name(ctx.region, "s3")]}]
    )["PrefixLists"]
    s3_list = lists[0]["PrefixListId"] if lists else None
    designed = paths(
        nat=ctx.settings.network.nat_gateways is not NatStrategy.NONE,
        executor_internet_access=ctx.settings.executor.internet_access,
    )
    expected: set[str] = set()
    for path in designed:
        peer = INTERNET if path.target is Peer.INTERNET else path.target.value
        expected.add(f"{path.source.value} egress tcp/{path.port} to {peer}")
        if isinstance(path.target, Group):
            expected.add(f"{path.target.value} ingress tcp/{path.port} from {path.source.value}")
    ours = {gid: role for role, gid in ctx.groups.items()}
    actual = {
        f"{ours[r['GroupId']]} {'egress' if r.get('IsEgress') else 'ingress'} {ports(r)} "
        f"{'to' if r.get('IsEgress') else 'from'} {peer_of(ctx, r, s3_list)}"
        for r in ctx.rules
        if r.get("GroupId") in ours
    }
    problems = [f"missing {rule}" for rule in sorted(expected - actual)]
    problems += [f"unexpected {rule}" for rule in sorted(actual - expected)]
    return verdict(problems, f"the {len(ours)} groups hold exactly the {len(expected)} designed rules")


@check("Executor egress")
def executor_egress(ctx: Context) -> Result:
    executor = ctx.groups[Group.EXECUTOR.value]
    internet = [
        r
        for r in ctx.rules
        if r.get("GroupId") == executor
        and r.get("IsEgress")
        and (r.get("CidrIpv4") == INTERNET or r.get("CidrIpv6") == IPV6_INTERNET)
    ]
    described = listing(f"{ports(r)} to {r.get('CidrIpv4') or r.get('CidrIpv6')}" for r in internet)
    if not ctx.settings.executor.internet_access:
        if internet:
            return False, f"executor group allows {described}; executor.internetAccess is false"
        return True, "no egress to 0.0.0.0/0 or ::/0: code in the executor cannot reach the internet"
    allowed = {"tcp/80", "tcp/443"}
    extra = [r for r in internet if ports(r) not in allowed or r.get("CidrIpv6")]
    if extra:
        return False, f"executor group allows {described}; executor.internetAccess allows tcp/80 and tcp/443 only"
    return True, "internet egress limited to tcp/80 and tcp/443 (executor.internetAccess true)"


# --- internal ALB ---


@check("ALB")
def alb(ctx: Context) -> Result:
    elbv2, arn, settings = ctx.client("elbv2"), ctx.outputs["albArn"], ctx.settings.alb
    found = elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]
    problems: list[str] = []
    if found.get("Scheme") != "internal":
        problems.append(f"scheme is {found.get('Scheme')}, expected internal")
    if found.get("Type") != "application":
        problems.append(f"type is {found.get('Type')}, expected application")
    state = found.get("State", {}).get("Code")
    if state != "active":
        problems.append(f"state is {state}, expected active")
    if set(found.get("SecurityGroups", [])) != {ctx.groups[Group.ALB.value]}:
        problems.append(f"security groups are {listing(found.get('SecurityGroups', []))}, expected the alb group")
    if {z.get("SubnetId") for z in found.get("AvailabilityZones", [])} != set(ctx.private_subnets):
        problems.append("not in exactly the private subnets")
    attributes = elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    enabled = {a["Key"] for a in attributes if str(a.get("Value")).lower() == "true"}
    optional = {  # attribute: (wanted, setting, shown as)
        "deletion_protection.enabled": (settings.deletion_protection, "alb.deletionProtection", "deletion protection"),
        "access_logs.s3.enabled": (settings.access_logs, "alb.accessLogs", "access logs"),
    }
    for key, (wanted, setting, _) in optional.items():
        if (key in enabled) != wanted:
            problems.append(f"{key} is {str(key in enabled).lower()}, expected {str(wanted).lower()} ({setting})")
    extras = " and ".join(shown for wanted, _, shown in optional.values() if wanted)
    with_extras = f", with {extras}" if extras else ""
    return verdict(
        problems, f"{found.get('LoadBalancerName')} is internal, active, in the private subnets{with_extras}"
    )


@check("ALB listener")
def alb_listener(ctx: Context) -> Result:
    listener = ctx.client("elbv2").describe_listeners(ListenerArns=[ctx.outputs["listenerArn"]])["Listeners"][0]
    problems: list[str] = []
    if listener.get("LoadBalancerArn") != ctx.outputs["albArn"]:
        problems.append("belongs to another load balancer")
    if (listener.get("Protocol"), listener.get("Port")) != ("HTTP", 80):
        problems.append(f"is {listener.get('Protocol')}:{listener.get('Port')}, expected HTTP:80")
    actions = listener.get("DefaultActions", [])
    fixed = [a for a in actions if a.get("Type") == "fixed-response"]
    status = fixed[0].get("FixedResponseConfig", {}).get("StatusCode") if fixed else None
    if len(actions) != 1 or status != "404":
        shown = listing(
            f"{a.get('Type')} {a.get('FixedResponseConfig', {}).get('StatusCode', '')}".strip() for a in actions
        )
        problems.append(f"default action is {shown}, expected fixed-response 404 (sessions route by header rule only)")
    return verdict(problems, "HTTP:80, default action fixed-response 404")


# --- executor cluster ---


@check("ECS cluster")
def ecs_cluster(ctx: Context) -> Result:
    described = ctx.client("ecs").describe_clusters(clusters=[ctx.outputs["clusterArn"]], include=["SETTINGS"])
    if not described.get("clusters"):
        reason = listing(f.get("reason", "?") for f in described.get("failures", []))
        return False, f"{ctx.outputs['clusterName']} not found ({reason})"
    cluster = described["clusters"][0]
    insights = next((s.get("value") for s in cluster.get("settings", []) if s.get("name") == "containerInsights"), None)
    problems: list[str] = []
    if cluster.get("status") != "ACTIVE":
        problems.append(f"status {cluster.get('status')}, expected ACTIVE")
    # "enhanced" is Container Insights with enhanced observability: more, not less.
    if insights not in ("enabled", "enhanced"):
        problems.append(f"Container Insights {insights or 'not set'}, expected enabled")
    return verdict(problems, f"{cluster.get('clusterName')} is ACTIVE with Container Insights {insights}")


@check("Task definition")
def task_definition(ctx: Context) -> Result:
    definition = ctx.task_definition
    executor = ctx.settings.executor
    architecture = "ARM64" if executor.architecture is Architecture.ARM64 else "X86_64"
    actual_architecture = definition.get("runtimePlatform", {}).get("cpuArchitecture", "X86_64")  # AWS's default
    problems: list[str] = []
    if definition.get("status") != "ACTIVE":
        problems.append(f"status {definition.get('status')}, expected ACTIVE")
    if definition.get("family") != ctx.outputs["executorTaskFamily"]:
        problems.append(f"family {definition.get('family')}, expected {ctx.outputs['executorTaskFamily']}")
    if actual_architecture != architecture:
        problems.append(
            f"cpu architecture {actual_architecture}, expected {architecture} "
            f"(executor.architecture {executor.architecture.value})"
        )
    if (str(definition.get("cpu")), str(definition.get("memory"))) != (str(executor.cpu), str(executor.memory)):
        problems.append(
            f"cpu/memory {definition.get('cpu')}/{definition.get('memory')}, expected {executor.cpu}/{executor.memory} "
            "(executor.cpu, executor.memory)"
        )
    if "FARGATE" not in definition.get("requiresCompatibilities", []) or definition.get("networkMode") != "awsvpc":
        problems.append("not a Fargate awsvpc task definition")
    names = [c.get("name") for c in definition.get("containerDefinitions", [])]
    if ctx.outputs["executorContainerName"] not in names:
        problems.append(f"no container {ctx.outputs['executorContainerName']} (has {listing(names)})")
    return verdict(
        problems,
        f"{definition.get('family')}:{definition.get('revision')} ACTIVE, {architecture}, "
        f"{executor.cpu} CPU / {executor.memory} MiB",
    )


@check("Executor image")
def executor_image(ctx: Context) -> Result:
    definition = ctx.task_definition
    name = ctx.outputs["executorContainerName"]
    container = next((c for c in definition.get("containerDefinitions", []) if c.get("name") == name), None)
    if container is None:
        return False, f"the task definition has no container {name}"
    image = str(container.get("image", ""))
    if not DIGEST_URI_PATTERN.match(image):
        return False, f"container {name} runs {image}, which is not digest-pinned (…@sha256:…); a tag can move"
    if image != ctx.outputs["executorImageUri"]:
        return False, f"container {name} runs {image}, but executorImageUri is {ctx.outputs['executorImageUri']}"
    return True, f"container {name} runs executorImageUri, pinned to {short_digest(image)}"


# --- log groups ---


def log_group_check(label: str, name: Callable[[Context], str], missing: str = "") -> None:
    def run(ctx: Context) -> Result:
        group_name = name(ctx)
        found = [
            g
            for g in ctx.pages("logs", "describe_log_groups", "logGroups", logGroupNamePrefix=group_name)
            if g.get("logGroupName") == group_name
        ]
        if not found:
            return False, f"{group_name} does not exist{missing}"
        days = found[0].get("retentionInDays")
        expected = ctx.settings.log_retention_days
        if days != expected:
            shown = f"{days} days" if days else "never expires"
            return False, f"{group_name} retention {shown}, expected {expected} (logRetentionDays)"
        return True, f"{group_name} keeps {days} days"

    check(label)(run)


log_group_check("Executor log group", lambda ctx: ctx.outputs["executorLogGroup"])
# AgentCore owns its runtime's log groups and creates them at its first write; `pulumi up` creates the live
# endpoint's group ahead of that (if missing) and sets its retention. So after a deploy the group exists:
# missing means the retention step did not run or the group was deleted since, and AgentCore would re-create
# it without retention (kept forever). The DEFAULT endpoint's group is AgentCore's alone and not checked.
log_group_check(
    "Agent log group",
    lambda ctx: ctx.outputs["agentLogGroup"],
    "; AgentCore would create it at the next invocation and keep its logs forever: run `pulumi up` to create "
    "it with logRetentionDays",
)


# --- container images in ECR ---


def repository_check(label: str, output: str) -> None:
    def run(ctx: Context) -> Result:
        uri = str(ctx.outputs[output])
        match = ECR_URI_PATTERN.match(uri)
        if not match:
            return False, f"{output} {uri} is not a digest-pinned ECR image URI"
        repository, digest = match["repository"], uri.rsplit("@", 1)[1]
        ecr = ctx.client("ecr")
        found = ecr.describe_repositories(registryId=match["account"], repositoryNames=[repository])["repositories"][0]
        problems: list[str] = []
        managed = ctx.settings.images.build is ImageBuild.LOCAL
        if managed and not found.get("imageScanningConfiguration", {}).get("scanOnPush"):
            problems.append(f"{repository} has scan on push off")
        if managed and found.get("imageTagMutability") != TAG_MUTABILITY:
            problems.append(
                f"{repository} has {found.get('imageTagMutability')} tags, expected {TAG_MUTABILITY} "
                "(a rebuild of an unchanged context must move its tag)"
            )
        try:
            ecr.describe_images(
                registryId=match["account"], repositoryName=repository, imageIds=[{"imageDigest": digest}]
            )
        except ClientError as error:
            if error_code(error) != "ImageNotFoundException":
                raise
            problems.append(f"the deployed digest {short_digest(uri)} is not in {repository} ({output})")
        settings = "scan on push, mutable tags, " if managed else "prebuilt image, "
        return verdict(problems, f"{repository}: {settings}deployed digest {short_digest(uri)} present")

    check(label)(run)


repository_check("Executor repository", "executorImageUri")
repository_check("Agent repository", "agentImageUri")


# --- artifacts bucket ---


@check("Bucket encryption")
def bucket_encryption(ctx: Context) -> Result:
    bucket = ctx.outputs["artifactBucket"]
    try:
        configuration = ctx.client("s3").get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    except ClientError as error:
        if error_code(error) != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        return False, f"{bucket} has no default encryption"
    algorithms = [
        r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in configuration.get("Rules", [])
    ]
    if not any(algorithms):
        return False, f"{bucket} has no default encryption"
    return True, f"{bucket} encrypts by default ({listing(a for a in algorithms if a)})"


@check("Bucket public access")
def bucket_public_access(ctx: Context) -> Result:
    bucket = ctx.outputs["artifactBucket"]
    try:
        block = ctx.client("s3").get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError as error:
        if error_code(error) != "NoSuchPublicAccessBlockConfiguration":
            raise
        return False, f"{bucket} has no public access block"
    flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    off = [flag for flag in flags if not block.get(flag)]
    if off:
        return False, f"{bucket} public access block has {listing(off)} off; all four must be on"
    return True, f"{bucket} blocks public access (all four settings on)"


def denies_plain_http(statement: Mapping[str, Any]) -> bool:
    actions = statement.get("Action", [])
    actions = [actions] if isinstance(actions, str) else actions
    principal = statement.get("Principal")
    condition = statement.get("Condition", {}).get("Bool", {})
    return (
        statement.get("Effect") == "Deny"
        and principal in ("*", {"AWS": "*"})
        and any(a in ("s3:*", "*") for a in actions)
        and str(condition.get("aws:SecureTransport", "")).lower() == "false"
    )


@check("Bucket TLS only")
def bucket_tls_only(ctx: Context) -> Result:
    bucket = ctx.outputs["artifactBucket"]
    try:
        policy = json.loads(ctx.client("s3").get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as error:
        if error_code(error) != "NoSuchBucketPolicy":
            raise
        return False, f"{bucket} has no bucket policy; it should deny requests without TLS"
    statements = policy.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    if not any(denies_plain_http(s) for s in statements):
        return False, f"{bucket} policy does not deny s3:* when aws:SecureTransport is false"
    return True, f"{bucket} policy denies every request without TLS"


# --- AgentCore runtime ---


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


# --- executor sessions ---


def short_name(kind: str, arn: str) -> str:
    """A target group's name (…:targetgroup/<name>/<id>); a rule's or task's id (the ARN's last part)."""
    parts = arn.split("/")
    return parts[1] if kind == "target group" and len(parts) > 2 else parts[-1]


@check("Orphaned sessions")
def orphaned_sessions(ctx: Context) -> Result:
    sessions = ecs_settings(ctx.stack, dict(ctx.outputs), ctx.settings)
    age = orphan_age(sessions)
    cutoff = datetime.now(UTC) - age
    found = session_resources(sessions, ecs=ctx.client("ecs"), elbv2=ctx.client("elbv2"))
    ours = {
        kind: {arn: t for arn, t in items.items() if t.get(STACK_TAG) == ctx.stack} for kind, items in found.items()
    }
    stale = {kind: [arn for arn, t in items.items() if created_before(t, cutoff)] for kind, items in ours.items()}
    minutes = int(age.total_seconds() // 60)
    orphans = [
        f"{len(arns)} {kind}{'s' * (len(arns) != 1)} ({listing(short_name(kind, arn) for arn in arns)})"
        for kind, arns in stale.items()
        if arns
    ]
    if orphans:
        return False, (
            f"{listing(orphans)} of stack {ctx.stack} older than {minutes} min; "
            f"remove with `deep-insight reap --stack {ctx.stack}`"
        )
    live = len({t.get(SESSION_TAG) for items in ours.values() for t in items.values()})
    return True, f"nothing of stack {ctx.stack} older than {minutes} min ({live} live session{'s' * (live != 1)})"


# --- running the checks ---


def run_check(item: Check, ctx: Context) -> Result:
    try:
        return item.run(ctx)
    except (NoCredentialsError, NoRegionError, EndpointConnectionError):
        raise  # every check would fail the same way: one line from reports_errors instead
    except (ClientError, BotoCoreError) as error:
        return False, aws_error_line(error)
    except Exception as error:  # a malformed AWS answer must not hide the remaining checks
        return False, f"could not check: {type(error).__name__}: {error}"


def mark(ok: bool) -> Text:
    return Text("✓", style="green") if ok else Text("✗", style="red")


@reports_errors
def command(
    stack: Annotated[
        str, typer.Option("--stack", "-s", help="Stack name; its Pulumi.<stack>.yaml gives the expected values.")
    ],
    outputs: Annotated[
        Path | None, typer.Option("--outputs", help="Stack outputs JSON (default: pulumi stack output --json).")
    ] = None,
) -> None:
    """Check a deployed stack with boto3: one ✓/✗ line per check, exit 1 if any fails.

    Network (DNS, AZ IDs, NAT, endpoints), security groups, ALB and listener, ECS cluster and task
    definition, log retention, ECR repositories and digests, the artifacts bucket, the AgentCore runtime
    (status, VPC config, image, role, endpoint, ENIs, service-linked role) and orphaned sessions. Expected
    values come from the stack's outputs and its Pulumi.<stack>.yaml. Read-only.

    Example: deep-insight verify --stack dev --outputs dev-outputs.json
    """
    settings = read_settings(stack)
    values = read_outputs(stack, outputs)
    if values["region"] != settings.region:
        raise OpsError(
            f"the outputs are in {values['region']} but Pulumi.{stack}.yaml deploys to {settings.region}; "
            f"are they the outputs of stack {stack}?"
        )
    ctx = Context(stack, values, settings)
    account = ctx.client("sts").get_caller_identity()["Account"]  # fails fast, in one line, without credentials
    console.print(Text(f"Verifying stack {stack} in account {account}, {settings.region}"), soft_wrap=True)
    failed = 0
    for item in CHECKS:
        ok, reason = run_check(item, ctx)
        failed += not ok
        console.print(Text.assemble(mark(ok), f" {item.label}: {reason}"), soft_wrap=True)
    summary = f"{len(CHECKS) - failed} of {len(CHECKS)} checks passed"
    console.print(Text(summary, style="red" if failed else "green"), soft_wrap=True)
    if failed:
        raise typer.Exit(FAILED)
