"""Network component under Pulumi mocks: AZ placement, CIDRs, NAT strategies, routes, destroy plan."""

from __future__ import annotations

import pytest

from components.settings import NatStrategy
from tests.conftest import key

SUBNET = "aws:ec2/subnet:Subnet"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
NAT = "aws:ec2/natGateway:NatGateway"
EIP = "aws:ec2/eip:Eip"
IGW = "aws:ec2/internetGateway:InternetGateway"


def network_children(evaluation):
    network = evaluation.named("network")
    assert network.type == "deep-insight:network:Network"
    return {(r.type, r.name) for r in evaluation.children_of(network)}


def expected_network(zones: list[str], strategy: NatStrategy) -> set[tuple[str, str]]:
    names = {("aws:ec2/vpc:Vpc", "network-vpc")}
    for zone in zones:
        names |= {
            (SUBNET, f"network-private-{zone}"),
            (SUBNET, f"network-agent-{zone}"),
            (ROUTE_TABLE, f"network-private-{zone}"),
            (ASSOCIATION, f"network-private-{zone}"),
            (ASSOCIATION, f"network-agent-{zone}"),
        }
    if strategy is NatStrategy.NONE:
        return names
    names |= {(IGW, "network-igw"), (ROUTE_TABLE, "network-public"), (ROUTE, "network-public-default")}
    for zone in zones:
        names |= {
            (SUBNET, f"network-public-{zone}"),
            (ASSOCIATION, f"network-public-{zone}"),
            (ROUTE, f"network-private-{zone}-default"),
        }
    nat_zones = zones[:1] if strategy is NatStrategy.SINGLE else zones
    for zone in nat_zones:
        names |= {(EIP, f"network-nat-{zone}"), (NAT, f"network-nat-{zone}")}
    return names


@pytest.mark.parametrize("strategy", list(NatStrategy))
def test_exact_resource_set_per_nat_strategy(evaluate_stack, strategy):
    evaluation = evaluate_stack("dev", {key("network.natGateways"): strategy.value})
    assert evaluation.error is None
    assert network_children(evaluation) == expected_network(["use1-az1", "use1-az2"], strategy)


def test_prod_is_three_zones_with_a_nat_per_zone(prod):
    zones = ["use1-az1", "use1-az2", "use1-az4"]
    assert network_children(prod) == expected_network(zones, NatStrategy.PER_AZ)
    assert len(prod.of_type(NAT)) == 3


def test_vpc_has_dns_support_and_hostnames(dev):
    vpc = dev.named("network-vpc")
    assert vpc.inputs["cidrBlock"] == "10.100.0.0/16"
    assert vpc.inputs["enableDnsSupport"] is True
    assert vpc.inputs["enableDnsHostnames"] is True


# The subnet plan of docs/architecture.md ("Network") for 10.100.0.0/16, written out by hand: per AZ a private /18
# from the front; the last /18 halved, its first half cut into agent /21s, its second into public /21s.
SUBNET_PLAN = {
    "use1-az1": {"private": "10.100.0.0/18", "agent": "10.100.192.0/21", "public": "10.100.224.0/21"},
    "use1-az2": {"private": "10.100.64.0/18", "agent": "10.100.200.0/21", "public": "10.100.232.0/21"},
    "use1-az4": {"private": "10.100.128.0/18", "agent": "10.100.208.0/21", "public": "10.100.240.0/21"},
}


@pytest.mark.parametrize("stack", ["dev_nat", "prod"])
def test_subnets_are_placed_by_az_id_with_the_documented_cidrs(request, stack):
    evaluation = request.getfixturevalue(stack)
    zones = evaluation.outputs["availabilityZoneIds"]
    assert zones == list(SUBNET_PLAN)[: len(zones)]
    vpc_id = evaluation.id_of("network-vpc")
    for zone in zones:
        for tier in ("private", "agent", "public"):
            subnet = evaluation.named(f"network-{tier}-{zone}", SUBNET).inputs
            assert subnet["availabilityZoneId"] == zone
            assert "availabilityZone" not in subnet  # names differ per account
            assert subnet["cidrBlock"] == SUBNET_PLAN[zone][tier]
            assert subnet["vpcId"] == vpc_id
            assert subnet["mapPublicIpOnLaunch"] is False


def test_dev_uses_the_first_supported_ids_not_us_east_1a(dev):
    # In this account us-east-1a is use1-az6, which AgentCore does not support.
    assert dev.outputs["availabilityZoneIds"] == ["use1-az1", "use1-az2"]


@pytest.mark.parametrize("strategy", [NatStrategy.SINGLE, NatStrategy.PER_AZ])
def test_each_private_route_table_routes_to_the_right_nat(evaluate_stack, strategy):
    evaluation = evaluate_stack("prod", {key("network.natGateways"): strategy.value})
    zones = evaluation.outputs["availabilityZoneIds"]
    assert zones == ["use1-az1", "use1-az2", "use1-az4"]
    for zone in zones:
        # single: every AZ through the first AZ's NAT; perAz: each AZ through its own
        nat_zone = "use1-az1" if strategy is NatStrategy.SINGLE else zone
        route = evaluation.named(f"network-private-{zone}-default", ROUTE).inputs
        nat = evaluation.named(f"network-nat-{nat_zone}", NAT)
        assert route["routeTableId"] == evaluation.id_of(f"network-private-{zone}", ROUTE_TABLE)
        assert route["destinationCidrBlock"] == "0.0.0.0/0"
        assert route["natGatewayId"] == nat.id
        assert nat.inputs["subnetId"] == evaluation.id_of(f"network-public-{nat_zone}", SUBNET)


def test_nat_gateways_wait_for_the_internet_gateway_and_use_elastic_ips(dev_nat):
    igw = dev_nat.of_type(IGW)[0]
    (nat,) = dev_nat.of_type(NAT)
    assert igw.urn in nat.dependencies
    eip = dev_nat.named(nat.name, EIP)
    assert nat.inputs["allocationId"] == eip.id
    assert eip.inputs["domain"] == "vpc"
    assert nat.inputs["connectivityType"] == "public"


def test_public_route_table_goes_to_the_internet_gateway(dev_nat):
    route = dev_nat.named("network-public-default", ROUTE)
    assert route.inputs["gatewayId"] == dev_nat.of_type(IGW)[0].id
    assert route.inputs["destinationCidrBlock"] == "0.0.0.0/0"


def test_no_default_route_without_nat(dev):
    assert dev.of_type(ROUTE) == []  # dev: natGateways none
    assert [s.name for s in dev.of_type(SUBNET) if "-public-" in s.name] == []


def test_private_and_agent_subnets_share_their_zones_route_table(prod):
    tables = {r.id: r.name for r in prod.of_type(ROUTE_TABLE)}
    subnets = {r.id: r for r in prod.of_type(SUBNET)}
    for association in prod.of_type(ASSOCIATION):
        subnet = subnets[association.inputs["subnetId"]]
        table = tables[association.inputs["routeTableId"]]
        tier, zone = subnet.name.removeprefix("network-").split("-", 1)
        assert table == ("network-public" if tier == "public" else f"network-private-{zone}")


def test_outputs_list_the_subnets_by_tier(prod):
    for tier, output in (("private", "privateSubnetIds"), ("agent", "agentSubnetIds")):
        expected = [prod.id_of(f"network-{tier}-{zone}", SUBNET) for zone in prod.outputs["availabilityZoneIds"]]
        assert prod.outputs[output] == expected
    assert prod.outputs["vpcId"] == prod.id_of("network-vpc")


NETWORK_LAYER = ("deep-insight:network:Network", "deep-insight:security:SecurityGroups")


def network_layer(evaluation):
    parents = {r.urn for r in evaluation.resources if r.type in NETWORK_LAYER}
    return [r for r in evaluation.resources if r.parent in parents]


def test_destroy_plan_retains_only_what_agentcore_enis_can_pin(dev, prod):
    # AgentCore keeps its ENIs up to 8 h after the runtime is deleted; they sit in the agent subnets
    # and the agent SG. Those, and the VPC that holds them, are retained; everything else is deleted.
    for evaluation in (dev, prod):
        zones = evaluation.outputs["availabilityZoneIds"]
        retained = {(r.type, r.name) for r in network_layer(evaluation) if r.retain_on_delete}
        assert retained == {
            ("aws:ec2/vpc:Vpc", "network-vpc"),
            ("aws:ec2/securityGroup:SecurityGroup", "security-agent"),
            *((SUBNET, f"network-agent-{zone}") for zone in zones),
        }
        for resource_type, name in retained:
            resource = evaluation.named(name, resource_type)
            assert resource.inputs["tags"]["deep-insight:retained"] == "agentcore-enis"


def test_nothing_is_protected_by_the_network_layer(dev, prod):
    assert [r.name for r in network_layer(dev) + network_layer(prod) if r.protect] == []
