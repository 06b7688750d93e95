"""Endpoints: S3 gateway on every private route table, interface endpoints with private DNS."""

from __future__ import annotations

import json

import pytest

from components.settings import DEFAULT_INTERFACE_ENDPOINTS
from tests.conftest import key

ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"


def endpoints_by_service(evaluation) -> dict[str, dict]:
    prefix = f"com.amazonaws.{evaluation.outputs['region']}."
    return {r.inputs["serviceName"].removeprefix(prefix): r.inputs for r in evaluation.of_type(ENDPOINT)}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_default_endpoint_set(request, stack):
    evaluation = request.getfixturevalue(stack)
    found = endpoints_by_service(evaluation)
    assert set(found) == {"s3", *DEFAULT_INTERFACE_ENDPOINTS}
    sg = evaluation.outputs["securityGroupIds"]["endpoints"]
    for service, inputs in found.items():
        assert inputs["vpcId"] == evaluation.outputs["vpcId"]
        if service == "s3":
            continue
        assert inputs["vpcEndpointType"] == "Interface"
        assert inputs["privateDnsEnabled"] is True
        assert inputs["subnetIds"] == evaluation.outputs["privateSubnetIds"]
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


def test_configured_services_replace_the_default(evaluate_stack):
    services = [*DEFAULT_INTERFACE_ENDPOINTS, "bedrock-agentcore", "xray", "monitoring"]
    evaluation = evaluate_stack("dev", {key("network.interfaceEndpoints"): json.dumps(services)})
    assert set(endpoints_by_service(evaluation)) == {"s3", *services}
    assert set(evaluation.outputs["endpointIds"]) == {"s3", *services}


def test_fully_private_stack_with_required_endpoints(evaluate_stack):
    evaluation = evaluate_stack("dev", {key("network.natGateways"): "none"})
    assert evaluation.error is None
    assert evaluation.of_type("aws:ec2/natGateway:NatGateway") == []
    assert evaluation.of_type("aws:ec2/internetGateway:InternetGateway") == []
    assert set(endpoints_by_service(evaluation)) == {"s3", *DEFAULT_INTERFACE_ENDPOINTS}


def test_endpoint_ids_output(dev):
    ids = dev.outputs["endpointIds"]
    assert ids["s3"] == dev.id_of("endpoints-s3")
    assert ids["ecr.dkr"] == dev.id_of("endpoints-ecr-dkr")
