"""Deep Insight on AWS: one stack per environment (Pulumi.<stack>.yaml).

settings -> network -> security -> endpoints -> (storage/images -> cluster/ALB -> agent runtime) -> exports
"""

import pulumi
import pulumi_aws as aws

from components.endpoints import Endpoints, EndpointsArgs
from components.errors import ConfigError
from components.network import Network, NetworkArgs
from components.security import Group, SecurityArgs, SecurityGroups
from components.settings import NatStrategy, Settings, read_settings
from components.zones import select_zone_ids


def available_zones(region: str) -> dict[str, str]:
    """AZ name -> AZ ID of the account's regular AZs (no Local or Wavelength Zones)."""
    zones = aws.get_availability_zones(
        state="available",
        filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
    )
    return dict(zip(zones.names, zones.zone_ids, strict=True))


def resolve_configuration() -> tuple[Settings, tuple[str, ...]]:
    """Validate every setting, then pick the AZs, before any resource is declared."""
    try:
        settings = read_settings()
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
    return settings, zone_ids


settings, zone_ids = resolve_configuration()
tags = settings.resource_tags
has_nat = settings.network.nat_gateways is not NatStrategy.NONE

network = Network(
    "network",
    NetworkArgs(
        cidr=settings.network.cidr,
        zone_ids=zone_ids,
        nat_gateways=settings.network.nat_gateways,
        tags=tags,
    ),
)

s3_prefix_list = aws.ec2.get_managed_prefix_list_output(name=f"com.amazonaws.{settings.region}.s3")
security = SecurityGroups(
    "security",
    SecurityArgs(
        vpc_id=network.vpc_id,
        s3_prefix_list_id=s3_prefix_list.id,
        nat=has_nat,
        executor_internet_access=settings.executor.internet_access,
        tags=tags,
    ),
)

endpoints = Endpoints(
    "endpoints",
    EndpointsArgs(
        region=settings.region,
        vpc_id=network.vpc_id,
        subnet_ids=network.private_subnet_ids,
        route_table_ids=network.private_route_table_ids,
        security_group_id=security.group_ids[Group.ENDPOINTS],
        interface_services=settings.network.interface_endpoints,
        tags=tags,
    ),
)

pulumi.export("region", settings.region)
pulumi.export("vpcId", network.vpc_id)
pulumi.export("availabilityZoneIds", list(network.zone_ids))
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("agentSubnetIds", network.agent_subnet_ids)
pulumi.export("publicSubnetIds", network.public_subnet_ids)
pulumi.export("privateRouteTableIds", network.private_route_table_ids)
pulumi.export("securityGroupIds", {group.value: sg_id for group, sg_id in security.group_ids.items()})
pulumi.export("endpointIds", dict(endpoints.endpoint_ids))
