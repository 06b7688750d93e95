"""Security groups: the pure path decision and the rule resources the program declares from it."""

from __future__ import annotations

import pytest

from components.security import Group, Path, Peer, paths
from tests.conftest import key

SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"


def edges(found: tuple[Path, ...]) -> set[tuple[str, str, int]]:
    return {(p.source.value, p.target.value, p.port) for p in found}


BASE = {
    ("agent", "alb", 80),
    ("alb", "executor", 8080),
    ("agent", "endpoints", 443),
    ("executor", "endpoints", 443),
    ("agent", "s3-prefix-list", 443),
    ("executor", "s3-prefix-list", 443),
}


@pytest.mark.parametrize(
    ("nat", "internet", "extra"),
    [
        (False, False, set()),
        (True, False, {("agent", "internet", 443)}),
        (True, True, {("agent", "internet", 443), ("executor", "internet", 443), ("executor", "internet", 80)}),
    ],
)
def test_paths_are_exactly_what_the_system_needs(nat, internet, extra):
    assert edges(paths(nat=nat, executor_internet_access=internet)) == BASE | extra


def test_nothing_ever_reaches_the_agent_or_endpoints_from_outside():
    for nat in (False, True):
        for internet in (False, True):
            for path in paths(nat=nat, executor_internet_access=internet):
                assert path.target is not Group.AGENT
                assert path.source is not Group.ENDPOINTS
                assert isinstance(path.target, Group | Peer)


def group_names_by_id(evaluation) -> dict[str, str]:
    return {r.id: r.name.removeprefix("security-") for r in evaluation.of_type(SG)}


def declared_rules(evaluation) -> set[tuple[str, str, str, int]]:
    """(direction, group, peer, port) for every rule resource; peer is a group name, a prefix list, or a CIDR."""
    groups = group_names_by_id(evaluation)
    found = set()
    for type_token, direction in ((INGRESS, "in"), (EGRESS, "out")):
        for rule in evaluation.of_type(type_token):
            inputs = rule.inputs
            assert inputs["ipProtocol"] == "tcp"
            assert inputs["fromPort"] == inputs["toPort"]
            assert inputs["description"]
            peer = (
                groups.get(inputs.get("referencedSecurityGroupId", ""))
                or inputs.get("prefixListId")
                or inputs.get("cidrIpv4")
            )
            assert peer, inputs
            found.add((direction, groups[inputs["securityGroupId"]], peer, inputs["fromPort"]))
    return found


DEV_RULES = {
    ("out", "agent", "alb", 80),
    ("in", "alb", "agent", 80),
    ("out", "alb", "executor", 8080),
    ("in", "executor", "alb", 8080),
    ("out", "agent", "endpoints", 443),
    ("in", "endpoints", "agent", 443),
    ("out", "executor", "endpoints", 443),
    ("in", "endpoints", "executor", 443),
    ("out", "agent", "pl-63a5400a", 443),
    ("out", "executor", "pl-63a5400a", 443),
    ("out", "agent", "0.0.0.0/0", 443),
}


def test_a_stack_with_nat_declares_exactly_the_designed_rules(dev_nat):
    assert declared_rules(dev_nat) == DEV_RULES


def test_executor_internet_access_adds_only_executor_egress(evaluate_stack):
    evaluation = evaluate_stack("dev", {key("network.natGateways"): "single", key("executor.internetAccess"): "true"})
    assert declared_rules(evaluation) - DEV_RULES == {
        ("out", "executor", "0.0.0.0/0", 443),
        ("out", "executor", "0.0.0.0/0", 80),
    }


def test_without_nat_nothing_leaves_for_the_internet(dev):
    assert declared_rules(dev) == DEV_RULES - {("out", "agent", "0.0.0.0/0", 443)}  # dev: natGateways none


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_ingress_from_anywhere_but_our_groups(request, stack):
    evaluation = request.getfixturevalue(stack)
    groups = group_names_by_id(evaluation)
    for rule in evaluation.of_type(INGRESS):
        assert rule.inputs.get("referencedSecurityGroupId") in groups
        assert "cidrIpv4" not in rule.inputs
        assert "cidrIpv6" not in rule.inputs


def test_groups_have_no_inline_rules_and_live_in_the_vpc(dev):
    vpc_id = dev.id_of("network-vpc")
    groups = dev.of_type(SG)
    assert sorted(g.name for g in groups) == [
        "security-agent",
        "security-alb",
        "security-endpoints",
        "security-executor",
    ]
    for group in groups:
        assert group.inputs["vpcId"] == vpc_id
        assert "ingress" not in group.inputs
        assert "egress" not in group.inputs
        assert group.inputs["description"].startswith("Deep Insight")


def test_outputs_map_group_names_to_ids(dev):
    assert dev.outputs["securityGroupIds"] == {
        name: dev.id_of(f"security-{name}", SG) for name in ("agent", "alb", "executor", "endpoints")
    }
