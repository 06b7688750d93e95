"""Appliers for the network: VPC, subnets, gateways, routes, security groups and their rules, endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.ops.translate import Applier, Step, number, tag_list

INTERNET = "0.0.0.0/0"


def tagged(resource_type: str, step: Step) -> dict[str, Any]:
    """The TagSpecifications argument, if the resource has tags (EC2 refuses an empty list of tags)."""
    tags = tag_list(step.inputs.get("tags"))
    return {"TagSpecifications": [{"ResourceType": resource_type, "Tags": tags}]} if tags else {}


def vpc(step: Step) -> Mapping[str, Any]:
    ec2, inputs = step.client("ec2"), step.inputs
    made = ec2.create_vpc(CidrBlock=inputs["cidrBlock"], **tagged("vpc", step))["Vpc"]
    # One attribute per call, as the API wants. AWS's defaults: DNS support on, hostnames off.
    ec2.modify_vpc_attribute(
        VpcId=made["VpcId"], EnableDnsSupport={"Value": bool(inputs.get("enableDnsSupport", True))}
    )
    ec2.modify_vpc_attribute(
        VpcId=made["VpcId"], EnableDnsHostnames={"Value": bool(inputs.get("enableDnsHostnames", False))}
    )
    return {
        "id": made["VpcId"],
        "arn": f"arn:{step.aws.partition}:ec2:{step.aws.region}:{step.aws.account}:vpc/{made['VpcId']}",
    }


def subnet(step: Step) -> Mapping[str, Any]:
    ec2, inputs = step.client("ec2"), step.inputs
    made = ec2.create_subnet(
        VpcId=inputs["vpcId"],
        CidrBlock=inputs["cidrBlock"],
        AvailabilityZoneId=inputs["availabilityZoneId"],
        **tagged("subnet", step),
    )["Subnet"]
    if inputs.get("mapPublicIpOnLaunch"):
        ec2.modify_subnet_attribute(SubnetId=made["SubnetId"], MapPublicIpOnLaunch={"Value": True})
    return {"id": made["SubnetId"], "arn": made["SubnetArn"]}


def internet_gateway(step: Step) -> Mapping[str, Any]:
    ec2 = step.client("ec2")
    gateway = ec2.create_internet_gateway(**tagged("internet-gateway", step))["InternetGateway"]
    if vpc_id := step.inputs.get("vpcId"):
        ec2.attach_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"], VpcId=vpc_id)
    return {"id": gateway["InternetGatewayId"]}


def eip(step: Step) -> Mapping[str, Any]:
    made = step.client("ec2").allocate_address(Domain=step.inputs["domain"], **tagged("elastic-ip", step))
    return {"id": made["AllocationId"], "allocationId": made["AllocationId"], "publicIp": made["PublicIp"]}


def nat_gateway(step: Step) -> Mapping[str, Any]:
    inputs = step.inputs
    gateway = step.client("ec2").create_nat_gateway(
        SubnetId=inputs["subnetId"],
        AllocationId=inputs["allocationId"],
        ConnectivityType=inputs.get("connectivityType", "public"),
        **tagged("natgateway", step),
    )["NatGateway"]
    return {"id": gateway["NatGatewayId"]}


def route_table(step: Step) -> Mapping[str, Any]:
    table = step.client("ec2").create_route_table(VpcId=step.inputs["vpcId"], **tagged("route-table", step))[
        "RouteTable"
    ]
    return {"id": table["RouteTableId"]}


def route(step: Step) -> Mapping[str, Any]:
    inputs = step.inputs
    targets = {"gatewayId": "GatewayId", "natGatewayId": "NatGatewayId"}
    target = {api: inputs[key] for key, api in targets.items() if key in inputs}
    step.client("ec2").create_route(
        RouteTableId=inputs["routeTableId"], DestinationCidrBlock=inputs["destinationCidrBlock"], **target
    )
    # The provider's id for a route: the table and the destination's hash; nothing names it.
    return {"id": f"r-{inputs['routeTableId']}{inputs['destinationCidrBlock']}"}


def route_table_association(step: Step) -> Mapping[str, Any]:
    inputs = step.inputs
    made = step.client("ec2").associate_route_table(RouteTableId=inputs["routeTableId"], SubnetId=inputs["subnetId"])
    return {"id": made["AssociationId"]}


def security_group(step: Step) -> Mapping[str, Any]:
    ec2, inputs = step.client("ec2"), step.inputs
    name = step.autoname()
    group = ec2.create_security_group(
        GroupName=name,
        Description=inputs.get("description", "Managed by Pulumi"),
        VpcId=inputs["vpcId"],
        **tagged("security-group", step),
    )["GroupId"]
    # The provider removes the allow-all egress rule AWS adds to a new group in a VPC; egress comes from rules.
    ec2.revoke_security_group_egress(
        GroupId=group, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": INTERNET}]}]
    )
    return {
        "id": group,
        "name": name,
        "arn": f"arn:{step.aws.partition}:ec2:{step.aws.region}:{step.aws.account}:security-group/{group}",
    }


def permission(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """One ``aws.vpc`` rule resource as the IpPermissions entry AuthorizeSecurityGroup* takes."""
    rule: dict[str, Any] = {
        "IpProtocol": inputs["ipProtocol"],
        "FromPort": number(inputs["fromPort"]),
        "ToPort": number(inputs["toPort"]),
    }
    described = {"Description": inputs["description"]} if "description" in inputs else {}
    if "referencedSecurityGroupId" in inputs:
        rule["UserIdGroupPairs"] = [{"GroupId": inputs["referencedSecurityGroupId"], **described}]
    elif "prefixListId" in inputs:
        rule["PrefixListIds"] = [{"PrefixListId": inputs["prefixListId"], **described}]
    elif "cidrIpv4" in inputs:
        rule["IpRanges"] = [{"CidrIp": inputs["cidrIpv4"], **described}]
    elif "cidrIpv6" in inputs:
        rule["Ipv6Ranges"] = [{"CidrIpv6": inputs["cidrIpv6"], **described}]
    return rule


def security_group_rule(direction: str) -> Applier:
    def apply(step: Step) -> Mapping[str, Any]:
        inputs = step.inputs
        authorize = getattr(step.client("ec2"), f"authorize_security_group_{direction}")
        made = authorize(
            GroupId=inputs["securityGroupId"],
            IpPermissions=[permission(inputs)],
            **tagged("security-group-rule", step),
        )["SecurityGroupRules"][0]
        return {"id": made["SecurityGroupRuleId"], "securityGroupRuleId": made["SecurityGroupRuleId"]}

    return apply


def vpc_endpoint(step: Step) -> Mapping[str, Any]:
    inputs = step.inputs
    interface = inputs.get("vpcEndpointType", "Gateway") == "Interface"
    optional = {
        "PrivateDnsEnabled": inputs.get("privateDnsEnabled", False) if interface else None,
        "SubnetIds": inputs.get("subnetIds"),
        "SecurityGroupIds": inputs.get("securityGroupIds"),
        "RouteTableIds": inputs.get("routeTableIds"),
        "PolicyDocument": inputs.get("policy"),
    }
    endpoint = step.client("ec2").create_vpc_endpoint(
        VpcId=inputs["vpcId"],
        ServiceName=inputs["serviceName"],
        VpcEndpointType=inputs.get("vpcEndpointType", "Gateway"),
        **tagged("vpc-endpoint", step),
        **{key: value for key, value in optional.items() if value is not None},
    )["VpcEndpoint"]
    return {"id": endpoint["VpcEndpointId"]}


APPLIERS: dict[str, Applier] = {
    "aws:ec2/vpc:Vpc": vpc,
    "aws:ec2/subnet:Subnet": subnet,
    "aws:ec2/internetGateway:InternetGateway": internet_gateway,
    "aws:ec2/eip:Eip": eip,
    "aws:ec2/natGateway:NatGateway": nat_gateway,
    "aws:ec2/routeTable:RouteTable": route_table,
    "aws:ec2/route:Route": route,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": route_table_association,
    "aws:ec2/securityGroup:SecurityGroup": security_group,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": security_group_rule("ingress"),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": security_group_rule("egress"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": vpc_endpoint,
}
