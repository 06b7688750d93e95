"""The stack outputs of the contract: SPEC §5's names, and shape checks that catch each wrong shape."""

from __future__ import annotations

import pytest
from deep_insight_contract.outputs import OUTPUT_NAMES, in_contract_order, shape_problems

# SPEC §5, transcribed in its order, then the analyst policy (which SPEC §5 predates): the program exports
# exactly these, and the ops CLI reads exactly these.
SPEC_OUTPUTS = [
    "region", "vpcId", "availabilityZoneIds", "privateSubnetIds", "agentSubnetIds", "securityGroupIds",
    "endpointIds", "albArn", "albDnsName", "listenerArn", "clusterName", "clusterArn",
    "executorTaskDefinitionArn", "executorTaskFamily", "executorContainerName", "executorLogGroup",
    "artifactBucket", "executorImageUri", "agentImageUri", "agentRuntimeArn", "agentRuntimeId",
    "agentRuntimeEndpointArn", "agentRoleArn", "agentLogGroup", "analystPolicyArn",
]  # fmt: skip
LISTS = {"availabilityZoneIds", "privateSubnetIds", "agentSubnetIds"}  # SPEC §5: lists of ids
MAPS = {"securityGroupIds", "endpointIds"}  # SPEC §5: "map: ..."


def good_outputs() -> dict[str, object]:
    return {
        name: ["id-1"] if name in LISTS else {"key": "id-1"} if name in MAPS else f"{name}-value"
        for name in SPEC_OUTPUTS
    }


def test_the_contract_names_the_spec_outputs_in_its_order():
    assert list(OUTPUT_NAMES) == SPEC_OUTPUTS


def test_outputs_of_the_spec_shapes_have_no_problems():
    assert shape_problems(good_outputs()) == []


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("region", "", "region should be a non-empty string"),
        ("vpcId", 7, "vpcId should be a non-empty string"),
        ("vpcId", ["vpc-1"], "vpcId should be a non-empty string"),
        ("privateSubnetIds", "subnet-1,subnet-2", "privateSubnetIds should be a list of strings"),
        ("agentSubnetIds", ["subnet-1", 2], "agentSubnetIds should be a list of strings"),
        ("endpointIds", ["vpce-1"], "endpointIds should be a map of strings"),
        ("securityGroupIds", {"agent": None}, "securityGroupIds should be a map of strings"),
    ],
)
def test_each_wrong_shape_is_named(name, value, problem):
    assert shape_problems({**good_outputs(), name: value}) == [problem]


def test_missing_outputs_are_named_together_with_bad_shapes():
    outputs = good_outputs()
    del outputs["albArn"], outputs["agentLogGroup"]
    outputs["region"] = 1
    assert shape_problems(outputs) == ["lacks albArn, agentLogGroup", "region should be a non-empty string"]


def test_in_contract_order_puts_the_values_in_the_spec_order():
    values = dict(zip(reversed(SPEC_OUTPUTS), range(len(SPEC_OUTPUTS)), strict=True))
    assert [name for name, _ in in_contract_order(values)] == SPEC_OUTPUTS
    assert dict(in_contract_order(values)) == values


def test_in_contract_order_refuses_a_missing_or_unknown_output():
    values = dict.fromkeys(SPEC_OUTPUTS, "x")
    del values["vpcId"]
    values["vpcCidr"] = "x"
    with pytest.raises(ValueError, match=r": no value for vpcId; not in the contract: vpcCidr$"):
        in_contract_order(values)
