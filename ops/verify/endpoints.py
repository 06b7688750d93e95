"""Endpoint checks: the interface endpoints the settings ask for and the S3 gateway endpoint."""

from __future__ import annotations

from components.endpoints import service_name
from components.security import Group
from components.settings import EndpointZones
from ops.verify.context import CheckList, Context, Result, listing

CHECKS = CheckList()
check = CHECKS.add


@check("Interface endpoints")
def interface_endpoints(ctx: Context) -> Result:
    wanted = ctx.settings.interface_endpoints
    # The private subnets are in the stack's AZ order: with endpointZones one, the first AZ's alone.
    one_zone = ctx.settings.network.endpoint_zones is EndpointZones.ONE
    subnets = ctx.private_subnets[:1] if one_zone else ctx.private_subnets
    where = "the first AZ's private subnet alone" if one_zone else "exactly the private subnets"
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
        if set(endpoint.get("SubnetIds", [])) != set(subnets):
            problems.append(f"{suffix} is not in {where}")
        if ctx.groups[Group.ENDPOINTS.value] not in {g.get("GroupId") for g in endpoint.get("Groups", [])}:
            problems.append(f"{suffix} lacks the endpoints security group")
    expected = {service_name(ctx.region, suffix) for suffix in wanted}
    for name in sorted({str(name) for name in by_service if name} - expected):
        suffix = name.removeprefix(service_name(ctx.region, ""))
        problems.append(
            f"{suffix} is not one the stack needs and bills by the hour: delete it or list it in "
            "network.interfaceEndpoints"
        )
    if problems:
        return False, f"{'; '.join(problems)} (expected: {listing(wanted)})"
    return True, f"{len(wanted)} available with private DNS in {where}: {listing(wanted)}"


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
