"""The VPC: per AZ a private, an agent and (with NAT) a public subnet, NAT by strategy, route tables.

Subnets are placed with ``availability_zone_id`` (never by AZ name: names differ per account) in the
AZ IDs chosen by `components.zones`. AgentCore's ENIs get subnets of their own (``agent``) so that the
ENIs AgentCore keeps for up to 8 hours after its runtime is deleted pin nothing but those subnets, the
agent security group and the VPC. Those three are retained on delete (see README, "Destroying a
stack"): `pulumi destroy` then finishes at once and leaves only free resources behind, tagged
``deep-insight:retained`` for later cleanup.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
from deep_insight_contract.tags import RETAINED_TAG

from components.addressing import carve_subnets
from components.settings import NatStrategy, ResourceTags

# Tag value on everything kept on `pulumi destroy` because AgentCore's ENIs may still be attached.
RETAINED_REASON = "agentcore-enis"


@dataclass(frozen=True)
class NetworkArgs:
    cidr: ipaddress.IPv4Network
    zone_ids: Sequence[str]
    nat_gateways: NatStrategy
    tags: ResourceTags


def nat_zone_for(zone_index: int, zone_ids: Sequence[str], strategy: NatStrategy) -> str | None:
    """The AZ whose NAT gateway the private route table of AZ ``zone_index`` uses (None: no NAT)."""
    if strategy is NatStrategy.NONE:
        return None
    if strategy is NatStrategy.SINGLE:
        return zone_ids[0]
    return zone_ids[zone_index]


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    agent_subnet_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]
    private_route_table_ids: pulumi.Output[list[str]]
    nat_gateway_ids: pulumi.Output[list[str]]
    zone_ids: tuple[str, ...]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("deep-insight:network:Network", name, None, opts)
        self.zone_ids = tuple(args.zone_ids)
        tags = args.tags
        child = pulumi.ResourceOptions(parent=self)
        # Kept on destroy: AgentCore's ENIs can block their deletion for hours (module docstring).
        kept = pulumi.ResourceOptions(parent=self, retain_on_delete=True)
        kept_tags = {RETAINED_TAG: RETAINED_REASON}

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=str(args.cidr),
            enable_dns_support=True,
            enable_dns_hostnames=True,  # interface endpoints' private DNS and ECS awsvpc need both
            tags=tags.named("vpc", **kept_tags),
            opts=kept,
        )
        plan = carve_subnets(args.cidr, len(self.zone_ids))
        has_nat = args.nat_gateways is not NatStrategy.NONE

        def make_subnet(tier: str, zone_id: str, cidr: ipaddress.IPv4Network, retained: bool) -> aws.ec2.Subnet:
            extra = {"deep-insight:tier": tier, **(kept_tags if retained else {})}
            return aws.ec2.Subnet(
                f"{name}-{tier}-{zone_id}",
                vpc_id=vpc.id,
                cidr_block=str(cidr),
                availability_zone_id=zone_id,
                # Nothing here gets a public IP: NAT gateways bring their own Elastic IP.
                map_public_ip_on_launch=False,
                tags=tags.named(f"{tier}-{zone_id}", **extra),
                opts=kept if retained else child,
            )

        private_subnets: list[aws.ec2.Subnet] = []
        agent_subnets: list[aws.ec2.Subnet] = []
        public_subnets: dict[str, aws.ec2.Subnet] = {}
        for zone_id, cidrs in zip(self.zone_ids, plan, strict=True):
            private_subnets.append(make_subnet("private", zone_id, cidrs.private, retained=False))
            agent_subnets.append(make_subnet("agent", zone_id, cidrs.agent, retained=True))
            if has_nat:
                public_subnets[zone_id] = make_subnet("public", zone_id, cidrs.public, retained=False)

        nat_gateways: dict[str, aws.ec2.NatGateway] = {}
        if has_nat:
            igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=tags.named("igw"), opts=child)
            public_table = aws.ec2.RouteTable(f"{name}-public", vpc_id=vpc.id, tags=tags.named("public"), opts=child)
            aws.ec2.Route(
                f"{name}-public-default",
                route_table_id=public_table.id,
                destination_cidr_block="0.0.0.0/0",
                gateway_id=igw.id,
                opts=child,
            )
            for zone_id, subnet in public_subnets.items():
                aws.ec2.RouteTableAssociation(
                    f"{name}-public-{zone_id}",
                    subnet_id=subnet.id,
                    route_table_id=public_table.id,
                    opts=child,
                )
            wanted = (nat_zone_for(i, self.zone_ids, args.nat_gateways) for i in range(len(self.zone_ids)))
            nat_zones = [zone for zone in dict.fromkeys(wanted) if zone is not None]
            for zone_id in nat_zones:
                eip = aws.ec2.Eip(f"{name}-nat-{zone_id}", domain="vpc", tags=tags.named(f"nat-{zone_id}"), opts=child)
                nat_gateways[zone_id] = aws.ec2.NatGateway(
                    f"{name}-nat-{zone_id}",
                    allocation_id=eip.id,
                    subnet_id=public_subnets[zone_id].id,
                    connectivity_type="public",
                    tags=tags.named(f"nat-{zone_id}"),
                    # A NAT gateway created before the VPC has an internet gateway never works.
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )

        private_tables: list[aws.ec2.RouteTable] = []
        for index, zone_id in enumerate(self.zone_ids):
            table = aws.ec2.RouteTable(
                f"{name}-private-{zone_id}", vpc_id=vpc.id, tags=tags.named(f"private-{zone_id}"), opts=child
            )
            private_tables.append(table)
            nat_zone = nat_zone_for(index, self.zone_ids, args.nat_gateways)
            if nat_zone is not None:
                aws.ec2.Route(
                    f"{name}-private-{zone_id}-default",
                    route_table_id=table.id,
                    destination_cidr_block="0.0.0.0/0",
                    nat_gateway_id=nat_gateways[nat_zone].id,
                    opts=child,
                )
            for tier, subnet in (("private", private_subnets[index]), ("agent", agent_subnets[index])):
                aws.ec2.RouteTableAssociation(
                    f"{name}-{tier}-{zone_id}", subnet_id=subnet.id, route_table_id=table.id, opts=child
                )

        self.vpc_id = vpc.id
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private_subnets])
        self.agent_subnet_ids = pulumi.Output.all(*[s.id for s in agent_subnets])
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public_subnets.values()])
        self.private_route_table_ids = pulumi.Output.all(*[t.id for t in private_tables])
        self.nat_gateway_ids = pulumi.Output.all(*[n.id for n in nat_gateways.values()])
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "privateSubnetIds": self.private_subnet_ids,
                "agentSubnetIds": self.agent_subnet_ids,
                "publicSubnetIds": self.public_subnet_ids,
                "privateRouteTableIds": self.private_route_table_ids,
                "natGatewayIds": self.nat_gateway_ids,
                "availabilityZoneIds": list(self.zone_ids),
            }
        )
