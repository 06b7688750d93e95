"""Network checks: the VPC's DNS, the subnets' AZ IDs, the NAT gateways and private routes."""

from __future__ import annotations

from components.security import INTERNET
from components.settings import NatStrategy
from components.zones import AGENTCORE_SUPPORTED_AZ_IDS
from ops.verify.context import GONE_STATES, CheckList, Context, Result, listing, verdict

CHECKS = CheckList()
check = CHECKS.add


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
