"""Endpoint policies as documents: AWS's rules for them, and what `components.endpoint_policies` does with grants.

The rules are the AWS PrivateLink guide's ("Control access to VPC endpoints using endpoint policies",
docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html): a Principal element, ``*`` on a gateway
endpoint; at most 20,480 characters; no wildcard or numeric operator with keys that carry system-generated
identifiers (aws:PrincipalAccount); at least six characters before or after each wildcard of a string condition;
an ARN's account field is an account ID or a wildcard, not both. What the policies allow is evaluated in
test_endpoint_policies.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from components.endpoint_policies import (
    ENDPOINT_SERVICES,
    MAX_POLICY_CHARACTERS,
    endpoint_policy,
)
from components.iam import allow
from components.settings_schema import KNOWN_INTERFACE_ENDPOINTS
from ops.evaluate import Evaluation
from policy.offline import run_policies
from policy.rules import POLICIES
from tests.aws_reference import _service, endpoint_allows, reference_findings
from tests.conftest import EvaluateStack, key

ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
OURS, THEIRS = "123456789012", "444455556666"
SYSTEM_KEYS = ("aws:PrincipalAccount", "aws:PrincipalArn", "aws:PrincipalOrgID", "aws:SourceVpc", "aws:SourceVpce")


def _policies(evaluation: Evaluation) -> dict[str, tuple[str, str]]:
    """Endpoint name -> (type, policy text)."""
    return {r.name: (r.inputs["vpcEndpointType"], r.inputs.get("policy") or "") for r in evaluation.of_type(ENDPOINT)}


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def aws_rule_breaks(kind: str, text: str) -> list[str]:
    """What in one endpoint policy breaks the PrivateLink guide's rules (module docstring)."""
    if not text:
        return ["no policy: AWS attaches full access"]
    found = [f"{len(text)} characters"] if len(text) > MAX_POLICY_CHARACTERS else []
    statements = _listed(json.loads(text)["Statement"])
    sids = [s.get("Sid") for s in statements]
    found += [f"Sid {sid} repeats" for sid in set(sids) if sids.count(sid) > 1]
    for s in statements:
        where = s.get("Sid", "?")
        if "Principal" not in s:
            found.append(f"{where}: no Principal")
        elif kind == "Gateway" and s["Principal"] != "*":
            found.append(f"{where}: a gateway endpoint's Principal must be *")
        for operator, block in s.get("Condition", {}).items():
            for condition_key, values in block.items():
                for value in map(str, _listed(values)):
                    if condition_key in SYSTEM_KEYS and (operator.startswith("Numeric") or re.search(r"[*?]", value)):
                        found.append(f"{where}: {operator} {condition_key} {value}")
                    if operator.startswith("String") and any(
                        len(before) < 6 and len(after) < 6 for before, after in _around_wildcards(value)
                    ):
                        found.append(f"{where}: fewer than six characters around a wildcard in {value}")
        for arn in (str(r) for r in _listed(s.get("Resource", []))):
            account = arn.split(":")[4] if arn.count(":") >= 5 else ""
            if "*" in account and account != "*":
                found.append(f"{where}: account field {account!r} of {arn}")
    return found


def _around_wildcards(value: str) -> list[tuple[str, str]]:
    pieces = re.split(r"[*?]", value)
    return [(pieces[i], pieces[i + 1]) for i in range(len(pieces) - 1)]


def test_the_rule_check_finds_each_break():
    bad = json.dumps({"Statement": [
        {"Sid": "A", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
        {"Sid": "A", "Effect": "Allow", "Principal": {"AWS": OURS}, "Action": "s3:GetObject", "Resource": "*"},
        {"Sid": "B", "Effect": "Allow", "Principal": "*", "Action": "ecs:RunTask",
         "Resource": "arn:aws:ecs:us-east-1:12*:task/*",
         "Condition": {"StringLike": {"aws:PrincipalAccount": "1234*", "ecs:cluster": "ab*"}}},
    ]})  # fmt: skip
    assert [f.split(":")[0] for f in aws_rule_breaks("Gateway", bad)] == ["Sid A repeats", "A", "A", *["B"] * 4]
    assert aws_rule_breaks("Interface", "") == ["no policy: AWS attaches full access"]
    assert aws_rule_breaks("Interface", json.dumps({"Statement": []}) + " " * MAX_POLICY_CHARACTERS)


STACKS = {
    "dev": {},
    "prod": {},
    # Every endpoint the settings know, several models, and the ALB's log bucket: the largest documents.
    "dev-everything": {
        key("network.interfaceEndpoints"): json.dumps(list(KNOWN_INTERFACE_ENDPOINTS)),
        key("agent.models"): json.dumps(
            dict.fromkeys(("planner", "coder"), "anthropic.claude-3-5-haiku-20241022-v1:0")
        ),
        key("alb.accessLogs"): "true",
    },
}


@pytest.mark.parametrize("name", list(STACKS))
def test_every_endpoint_policy_follows_aws_rules(evaluate_stack: EvaluateStack, name: str):
    evaluation = evaluate_stack(name.split("-", maxsplit=1)[0], STACKS[name])
    assert evaluation.error is None, evaluation.error
    policies = _policies(evaluation)
    assert policies
    breaks = {endpoint: aws_rule_breaks(kind, text) for endpoint, (kind, text) in policies.items()}
    assert {endpoint: found for endpoint, found in breaks.items() if found} == {}
    # Every action and condition key exists in AWS's Service Authorization Reference, for the action it is on.
    assert reference_findings([(endpoint, json.loads(text)) for endpoint, (_, text) in policies.items()]) == []
    # The policy pack's own rule agrees (an endpoint no role uses is admitted to this account only: not open).
    (rule,) = [p for p in POLICIES if p.name == "vpc-endpoint-policy"]
    assert run_policies(evaluation.of_type(ENDPOINT), [rule]) == []


def test_every_endpoint_the_stack_can_create_has_its_service_in_the_reference():
    assert set(ENDPOINT_SERVICES) == {"s3", *KNOWN_INTERFACE_ENDPOINTS}
    for suffix, service in ENDPOINT_SERVICES.items():
        assert _service(service.iam_prefix), f"{suffix}: {service.iam_prefix} is no service prefix of the reference"
        assert service.policy_support.startswith("docs.aws.amazon.com/")


# --- what endpoint_policy makes of grants ---

CLUSTER = f"arn:aws:ecs:us-east-1:{OURS}:cluster/c"
GRANTS = [
    allow("RunExecutorTask", ["ecs:RunTask"], [f"arn:aws:ecs:us-east-1:{OURS}:task-definition/f:*"],
          {"ArnEquals": {"ecs:cluster": CLUSTER}}),
    allow("PassExecutorRoles", ["iam:PassRole"], [f"arn:aws:iam::{OURS}:role/r"]),
    allow("EcrToken", ["ecr:GetAuthorizationToken"], "*"),
    allow("EcrToken", ["ecr:GetAuthorizationToken"], "*"),
    allow("EcrToken", ["ecr:BatchGetImage"], [f"arn:aws:ecr:us-east-1:{OURS}:repository/x"]),
]  # fmt: skip


def _policy(service: str, grants=GRANTS) -> dict:
    return endpoint_policy(service, grants, account_id=OURS, partition="aws", region="us-east-1")


def _by(account: str) -> dict[str, str]:
    return {"aws:PrincipalAccount": account}


def test_a_grant_passes_for_this_account_alone_with_its_own_conditions():
    ecs = _policy("ecs")
    run_task = ("ecs:RunTask", f"arn:aws:ecs:us-east-1:{OURS}:task-definition/f:3")
    assert endpoint_allows(ecs, *run_task, {"ecs:cluster": CLUSTER, **_by(OURS)})
    assert not endpoint_allows(ecs, *run_task, {"ecs:cluster": CLUSTER, **_by(THEIRS)})
    assert not endpoint_allows(ecs, *run_task, {"ecs:cluster": CLUSTER + "x", **_by(OURS)})
    assert not endpoint_allows(ecs, *run_task, {"ecs:cluster": CLUSTER})  # anonymous


def test_an_endpoint_lets_through_only_its_own_service():
    assert [s["Sid"] for s in _policy("ecs")["Statement"]] == ["RunExecutorTask"]
    assert not endpoint_allows(_policy("ecs"), "iam:PassRole", f"arn:aws:iam::{OURS}:role/r", _by(OURS))


def test_repeated_grants_appear_once_and_clashing_sids_are_numbered():
    assert [s["Sid"] for s in _policy("ecr.dkr")["Statement"]] == ["EcrToken", "EcrToken2"]


def test_the_s3_gateway_lets_anyone_get_image_layers_and_nothing_else_of_that_bucket():
    s3 = _policy("s3", [])
    layer = "arn:aws:s3:::prod-us-east-1-starport-layer-bucket/sha256/abc"
    assert endpoint_allows(s3, "s3:GetObject", layer, _by(THEIRS))
    assert endpoint_allows(s3, "s3:GetObject", layer, {})
    assert not endpoint_allows(s3, "s3:PutObject", layer, _by(OURS))
    assert not endpoint_allows(s3, "s3:GetObject", "arn:aws:s3:::prod-us-east-1-other-bucket/x", _by(OURS))


def test_an_endpoint_no_role_uses_admits_this_account_alone():
    sts = _policy("sts")
    assert [s["Sid"] for s in sts["Statement"]] == ["ThisAccountOnly"]
    assert endpoint_allows(sts, "sts:GetCallerIdentity", "*", _by(OURS))
    assert not endpoint_allows(sts, "sts:GetCallerIdentity", "*", _by(THEIRS))
    assert not endpoint_allows(sts, "sts:AssumeRole", f"arn:aws:iam::{THEIRS}:role/x", {})


def test_only_allow_grants_are_accepted():
    deny = {"Sid": "D", "Effect": "Deny", "Action": ["ecs:RunTask"], "Resource": "*"}
    with pytest.raises(ValueError, match="only Allow"):
        _policy("ecs", [deny])
