"""The translator from an evaluated program to moto (tests/ops/translate.py) refuses to guess."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ops.evaluate import Declared, Evaluation
from tests.ops.deployed import appliers_for, shared_client
from tests.ops.translate import NO_AWS_STATE, Aws, Substitutions, TranslationError, apply, in_dependency_order

REGION = "us-east-1"
VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"


def declared(
    type_token: str,
    name: str,
    inputs: dict[str, Any],
    *,
    dependencies: tuple[str, ...] = (),
    parent: str = "",
    custom: bool = True,
) -> Declared:
    urn = f"urn:pulumi:dev::deep-insight::{type_token}::{name}"
    kind = type_token.rsplit(":", 1)[-1].lower()
    return Declared(
        type=type_token, name=name, urn=urn, parent=parent, custom=custom, inputs=inputs, state=dict(inputs),
        id=f"{kind}-{name}0000", retain_on_delete=False, protect=False, dependencies=dependencies,
    )  # fmt: skip


def no_aws(service: str, region: str) -> Any:
    raise AssertionError(f"no AWS call expected, got a {service} client")


def translate(resources: list[Declared], clients=no_aws):
    return apply(resources, [], appliers_for(resources), Aws(REGION, clients))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_type_the_program_declares_has_an_applier(stack, request):
    evaluation: Evaluation = request.getfixturevalue(stack)
    declared_types = {r.type for r in evaluation.resources if r.custom}
    assert declared_types - set(appliers_for(evaluation.resources)) - NO_AWS_STATE == set()


def test_an_unknown_resource_type_fails_instead_of_being_skipped():
    with pytest.raises(TranslationError, match=r"no applier for aws:sqs/queue:Queue \(jobs\)"):
        translate([declared("aws:sqs/queue:Queue", "jobs", {"name": "jobs"})])


def test_an_input_the_applier_does_not_use_fails(aws):
    vpc = declared(VPC, "vpc", {"cidrBlock": "10.0.0.0/16", "instanceTenancy": "dedicated"})
    with pytest.raises(TranslationError, match=r"ignores the inputs \['instanceTenancy'\]"):
        translate([vpc], shared_client)


def test_a_value_the_mock_made_up_and_the_applier_does_not_report_fails(aws):
    vpc = declared(VPC, "vpc", {"cidrBlock": "10.0.0.0/16"})
    vpc = dataclasses.replace(vpc, state={**vpc.state, "mainRouteTableId": "rtb-made-up"})
    with pytest.raises(TranslationError, match=r"vpc: the applier does not report \['mainRouteTableId'\]"):
        translate([vpc], shared_client)


def test_a_mock_id_left_in_an_input_fails():
    # The subnet names a VPC the program never declared: nothing can stand in for its id.
    subnet = declared(SUBNET, "subnet", {"vpcId": "vpc-elsewhere0000", "cidrBlock": "10.0.0.0/24"})
    orphan = declared(VPC, "elsewhere", {"cidrBlock": "10.0.0.0/16"})
    with pytest.raises(TranslationError, match=r"subnet: mock values left after substitution: \['vpc-elsewhere0000'\]"):
        translate([subnet, orphan])


def test_ids_are_replaced_by_the_ids_moto_made(aws):
    vpc = declared(VPC, "vpc", {"cidrBlock": "10.0.0.0/16"})
    subnet = declared(
        SUBNET, "subnet", {"vpcId": vpc.id, "cidrBlock": "10.0.1.0/24", "availabilityZoneId": "use1-az1"},
        dependencies=(vpc.urn,),
    )  # fmt: skip

    translation = translate([subnet, vpc], shared_client)

    made_vpc, made_subnet = translation.applied
    assert made_vpc.declared is vpc, "the dependency first"
    assert made_subnet.inputs["vpcId"] == made_vpc.outputs["id"] != vpc.id
    found = shared_client("ec2", REGION).describe_subnets(SubnetIds=[made_subnet.outputs["id"]])["Subnets"][0]
    assert (found["VpcId"], found["CidrBlock"], found["AvailabilityZoneId"]) == (
        made_vpc.outputs["id"],
        "10.0.1.0/24",
        "use1-az1",
    )


def test_substitution_prefers_the_longest_mock_value_and_keeps_short_ones_whole():
    substitute = Substitutions()
    substitute.add("alb-lb-1b8ba", "alb-lb-7f00e1c")
    substitute.add("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/alb-lb-1b8ba/50dc", "arn:real")
    substitute.add("747", "1")

    assert substitute({"arn": "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/alb-lb-1b8ba/50dc"}) == {
        "arn": "arn:real"
    }
    assert substitute(["internal-alb-lb-1b8ba-1.elb", "747", "port 7470"]) == [
        "internal-alb-lb-7f00e1c-1.elb",
        "1",
        "port 7470",
    ]


def test_a_dependency_on_a_component_waits_for_everything_inside_it():
    component = declared("deep-insight:network:Network", "network", {}, custom=False)
    vpc = declared(VPC, "vpc", {}, parent=component.urn)
    subnet = declared(SUBNET, "subnet", {}, parent=component.urn, dependencies=(vpc.urn,))
    user = declared("aws:lb/loadBalancer:LoadBalancer", "alb", {}, dependencies=(component.urn,))

    assert [r.name for r in in_dependency_order([user, component, subnet, vpc])] == ["vpc", "subnet", "alb"]
