"""The analyst policy as the program declares it: one customer-managed policy per stack, exported, naming only
this stack's runtime endpoint and bucket, clean by parliament and the Service Authorization Reference. What it
must allow is proven from the callers' recorded requests in tests/ops/test_iam_callers.py."""

from __future__ import annotations

import json

import pytest
from deep_insight_contract.storage import console_record_key

from ops.web.runners import CONSOLE_RECORD, SESSIONS
from tests.aws_reference import allows, reference_findings
from tests.botocore_shapes import member_limit
from tests.policy_lint import parliament_findings, wildcard_grants

POLICY = "aws:iam/policy:Policy"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_one_policy_per_stack_is_exported_and_names_only_its_runtime_and_bucket(request, stack):
    evaluation = request.getfixturevalue(stack)
    (policy,) = evaluation.of_type(POLICY)
    out = evaluation.outputs
    assert out["analystPolicyArn"] == policy.state["arn"]
    document = json.loads(policy.inputs["policy"])
    resources = {
        r for s in document["Statement"] for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
    }
    bucket = f"arn:aws:s3:::{out['artifactBucket']}"
    runtime = out["agentRuntimeArn"]
    assert resources == {
        runtime,
        out["agentRuntimeEndpointArn"],  # the live endpoint's ARN is the runtime's plus /runtime-endpoint/live
        bucket,
        f"{bucket}/sessions/*/input/*",
        f"{bucket}/sessions/*/review/decision.json",
        f"{bucket}/sessions/*/console.json",
        f"{bucket}/sessions/*/artifacts/*",
    }
    assert policy.inputs["namePrefix"] == f"deep-insight-{stack}-analyst-"
    assert policy.inputs["tags"]["deep-insight:stack"] == stack


def test_the_document_is_clean_and_within_iams_limits(dev):
    (policy,) = dev.of_type(POLICY)
    document = json.loads(policy.inputs["policy"])
    assert parliament_findings(document) == []
    assert wildcard_grants(document) == []
    assert reference_findings([("analyst", document)]) == []
    for member, value in (("Description", policy.inputs["description"]), ("PolicyName", policy.state["name"])):
        assert member_limit("iam", "CreatePolicy", member).problem(value) is None
    # A managed policy's document may hold 6,144 characters, whitespace excluded (IAM quotas, "IAM and AWS STS
    # quotas": docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
    assert len("".join(policy.inputs["policy"].split())) <= 6144


def test_it_reads_and_writes_only_what_a_job_exchanges_with_a_person(dev):
    (policy,) = dev.of_type(POLICY)
    document = json.loads(policy.inputs["policy"])
    bucket = f"arn:aws:s3:::{dev.outputs['artifactBucket']}"
    session = "deep-insight-20260101T000000Z-0123456789abcdef0123456789abcdef"
    allowed = [
        ("s3:PutObject", f"{bucket}/sessions/{session}/input/sales.csv", {}),
        ("s3:PutObject", f"{bucket}/sessions/{session}/review/decision.json", {}),
        ("s3:GetObject", f"{bucket}/sessions/{session}/artifacts/charts/a.png", {}),
        ("s3:ListBucket", bucket, {"s3:prefix": f"sessions/{session}/artifacts/"}),
        ("s3:ListBucket", bucket, {"s3:prefix": "sessions/"}),
    ]
    refused = [
        ("s3:PutObject", f"{bucket}/sessions/{session}/artifacts/final_report.md", {}),  # the runtime's to write
        ("s3:GetObject", f"{bucket}/sessions/{session}/input/sales.csv", {}),  # someone's data
        ("s3:DeleteObject", f"{bucket}/sessions/{session}/review/decision.json", {}),
        ("s3:ListBucket", bucket, {"s3:prefix": ""}),
        ("s3:GetObject", f"arn:aws:s3:::elsewhere/sessions/{session}/artifacts/a.png", {}),
    ]
    assert [allows(document, *case) for case in allowed] == [True] * len(allowed)
    assert [allows(document, *case) for case in refused] == [False] * len(refused)


def test_the_console_writes_its_record_where_the_policy_lets_it():
    # One key in two places until the console takes it from the contract: they must agree.
    session = "deep-insight-20260101T000000Z-0123456789abcdef0123456789abcdef"
    assert f"{SESSIONS}{session}/{CONSOLE_RECORD}" == console_record_key(session)
