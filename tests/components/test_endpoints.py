"""Endpoints: S3 gateway on every private route table, interface endpoints with private DNS."""

from __future__ import annotations

import json

import pytest

from tests.conftest import key

ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"


def endpoints_by_service(evaluation) -> dict[str, dict]:
    prefix = f"com.amazonaws.{evaluation.outputs['region']}."
    return {r.inputs["serviceName"].removeprefix(prefix): r.inputs for r in evaluation.of_type(ENDPOINT)}


# What each stack's parts need, written out (README's cost section lists the same): without NAT every AWS API
# the agent and the executor use; with NAT only what the executor, which has no internet, needs.
WITHOUT_NAT = {"ecr.api", "ecr.dkr", "logs", "bedrock-runtime", "ecs", "elasticloadbalancing"}
EXECUTOR_ONLY = {"ecr.api", "ecr.dkr", "logs"}


@pytest.mark.parametrize(("stack", "services", "zones"), [("dev", WITHOUT_NAT, 1), ("prod", EXECUTOR_ONLY, 3)])
def test_each_stack_has_the_endpoints_its_parts_need(request, stack, services, zones):
    evaluation = request.getfixturevalue(stack)
    found = endpoints_by_service(evaluation)
    assert set(found) == {"s3", *services}
    sg = evaluation.outputs["securityGroupIds"]["endpoints"]
    private = evaluation.outputs["privateSubnetIds"]
    for service, inputs in found.items():
        assert inputs["vpcId"] == evaluation.outputs["vpcId"]
        if service == "s3":
            continue
        assert inputs["vpcEndpointType"] == "Interface"
        assert inputs["privateDnsEnabled"] is True
        assert inputs["subnetIds"] == private[:zones]  # dev: the first AZ's alone (endpointZones one)
        assert inputs["securityGroupIds"] == [sg]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_s3_gateway_is_on_every_private_route_table(request, stack):
    evaluation = request.getfixturevalue(stack)
    s3 = endpoints_by_service(evaluation)["s3"]
    private_tables = [
        evaluation.id_of(f"network-private-{zone}", "aws:ec2/routeTable:RouteTable")
        for zone in evaluation.outputs["availabilityZoneIds"]
    ]
    assert s3["vpcEndpointType"] == "Gateway"
    assert s3["routeTableIds"] == private_tables


def test_configured_services_are_added_to_what_the_parts_need(evaluate_stack):
    evaluation = evaluate_stack("dev", {key("network.interfaceEndpoints"): json.dumps(["xray", "monitoring"])})
    assert set(endpoints_by_service(evaluation)) == {"s3", *WITHOUT_NAT, "xray", "monitoring"}
    assert set(evaluation.outputs["endpointIds"]) == {"s3", *WITHOUT_NAT, "xray", "monitoring"}


def test_parts_that_go_out_through_nat_need_no_interface_endpoint(evaluate_stack):
    evaluation = evaluate_stack("dev", {key("network.natGateways"): "single", key("executor.internetAccess"): "true"})
    assert evaluation.error is None
    assert set(endpoints_by_service(evaluation)) == {"s3"}


def test_endpoints_in_every_zone_on_request(evaluate_stack):
    evaluation = evaluate_stack("dev", {key("network.endpointZones"): "all"})
    for service, inputs in endpoints_by_service(evaluation).items():
        if service != "s3":
            assert inputs["subnetIds"] == evaluation.outputs["privateSubnetIds"]
            assert len(inputs["subnetIds"]) == 2


def test_endpoint_ids_output(dev):
    ids = dev.outputs["endpointIds"]
    assert ids["s3"] == dev.id_of("endpoints-s3")
    assert ids["ecr.dkr"] == dev.id_of("endpoints-ecr-dkr")


def test_dev_has_no_way_out_but_endpoints(dev):
    assert dev.of_type("aws:ec2/natGateway:NatGateway") == []
    assert dev.of_type("aws:ec2/internetGateway:InternetGateway") == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_endpoint_admits_this_account_alone_but_to_ecr_layers(request, stack):
    """The shape of each policy; what they let through is evaluated in test_endpoint_policies.py."""
    evaluation = request.getfixturevalue(stack)
    for service, inputs in endpoints_by_service(evaluation).items():
        statements = json.loads(inputs["policy"])["Statement"]
        open_to_all = [s["Sid"] for s in statements if "aws:PrincipalAccount" not in json.dumps(s.get("Condition"))]
        assert open_to_all == (["EcrImageLayers"] if service == "s3" else []), service
        for statement in statements:
            assert statement["Principal"] == "*"
            if statement["Sid"] != "EcrImageLayers":
                assert statement["Condition"]["StringEquals"]["aws:PrincipalAccount"] == "123456789012"
