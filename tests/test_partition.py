"""The program in another partition: us-gov-west-1 (aws-us-gov) is in AgentCore's VPC table.

Every ARN the program writes must use the stack's partition (from ``aws.get_partition``); an
``arn:aws:`` literal would make IAM policies that grant nothing and trust policies that never match.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from ops.evaluate import Evaluation, partition_of

GOV = {
    "aws:region": "us-gov-west-1",
    "deep-insight:agent.modelId": "anthropic.claude-3-5-sonnet-20240620-v1:0",
    "deep-insight:network.availabilityZoneIds": None,  # prod lists us-east-1's
    "deep-insight:network.azCount": "3",
}


def strings(value: Any) -> Iterator[str]:
    """Every string in a value, JSON documents (policies, container definitions) included."""
    if isinstance(value, str):
        yield value
        if value[:1] in "[{":
            with contextlib.suppress(ValueError):
                yield from strings(json.loads(value))
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from strings(v)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)


@pytest.fixture(scope="module")
def gov(evaluate_stack) -> Evaluation:
    result = evaluate_stack("prod", GOV)
    assert result.error is None, result.error
    return result


def test_partition_of_regions():
    assert partition_of("us-gov-west-1") == ("aws-us-gov", "amazonaws.com")
    assert partition_of("us-east-1") == ("aws", "amazonaws.com")
    assert partition_of("cn-north-1") == ("aws-cn", "amazonaws.com.cn")


def test_govcloud_stack_uses_its_partition_everywhere(gov):
    assert gov.outputs["availabilityZoneIds"] == ["usgw1-az1", "usgw1-az2", "usgw1-az3"]
    wrong = [
        (resource.name, text)
        for resource in gov.resources
        for text in strings(dict(resource.inputs))
        if "arn:aws:" in text
    ]
    assert wrong == []
    arns = [text for resource in gov.resources for text in strings(dict(resource.inputs)) if text.startswith("arn:")]
    assert arns, "the evaluation declared no ARN at all"
    assert all(text.startswith("arn:aws-us-gov:") for text in arns), [a for a in arns if "aws-us-gov" not in a]
    assert not [text for text in strings(gov.outputs) if "arn:aws:" in text]


def test_govcloud_service_names_and_principals(gov):
    endpoints = {r.inputs["serviceName"] for r in gov.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")}
    assert "com.amazonaws.us-gov-west-1.s3" in endpoints
    assert all(name.startswith("com.amazonaws.us-gov-west-1.") for name in endpoints)
    principals = {
        service
        for role in gov.of_type("aws:iam/role:Role")
        for statement in json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        for service in [statement["Principal"]["Service"]]
    }
    # GovCloud keeps the commercial service principals (codebuild: the image builds' roles).
    assert principals == {"ecs-tasks.amazonaws.com", "bedrock-agentcore.amazonaws.com", "codebuild.amazonaws.com"}
