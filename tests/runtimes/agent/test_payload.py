"""Invocation payload validation (SPEC §7): one clear line per mistake."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import boto3
import pytest
from deep_insight_agent.payload import Invocation, PayloadError, parse_invocation, parse_session_id
from deep_insight_contract.session import AGENTCORE_SESSION_ID_MIN

BUCKET = "deep-insight-dev-artifacts-abc"


def test_a_full_payload():
    payload = {
        "prompt": " 카테고리별 매출을 분석해줘 ",
        "data": [f"s3://{BUCKET}/sessions/x/input/sales.csv"],
        "language": "en",
    }
    assert parse_invocation(payload, artifact_bucket=BUCKET) == Invocation(
        prompt="카테고리별 매출을 분석해줘", data=(f"s3://{BUCKET}/sessions/x/input/sales.csv",), language="en"
    )


def test_language_follows_the_question_when_absent():
    assert parse_invocation({"prompt": "매출 총액은?"}, artifact_bucket=None).language == "ko"
    assert parse_invocation({"prompt": "Total sales?"}, artifact_bucket=None).language == "en"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("just text", "must be a JSON object"),
        ({}, "prompt is required"),
        ({"prompt": "   "}, "prompt is required"),
        ({"prompt": 42}, "prompt is required"),
        ({"prompt": "x" * 20001}, "keep it under 20000"),
        ({"prompt": "q", "data": "s3://b/k"}, "data must be a list"),
        ({"prompt": "q", "data": ["https://example.com/a.csv"]}, "is not an s3://bucket/key URI"),
        ({"prompt": "q", "data": ["s3://other-bucket/a.csv"]}, "outside the artifacts bucket"),
        ({"prompt": "q", "data": [f"s3://{BUCKET}/k"] * 21}, "at most 20"),
        ({"prompt": "q", "language": "fr"}, "use ko or en"),
        ({"prompt": "q", "lang": "ko"}, "unknown field(s) lang"),
    ],
)
def test_each_mistake_is_named(payload, message):
    with pytest.raises(PayloadError) as caught:
        parse_invocation(payload, artifact_bucket=BUCKET)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "session_id",
    [
        None, "", "short", "x" * 32, "x" * 257,
        "a*" + "x" * 40,  # an ALB header wildcard
        "세션-" + "x" * 40,  # AgentCore takes it; ELB/ECS tags and the executor's path do not
        "x" * 40 + "\n", "x" * 20 + " " + "x" * 20, "-" + "x" * 40,
    ],
)  # fmt: skip
def test_session_ids_outside_the_contracts_rule_or_shorter_than_agentcores_are_refused(session_id):
    with pytest.raises(PayloadError, match="is not accepted; use 1-256 characters") as caught:
        parse_session_id(session_id)
    assert f"at least {AGENTCORE_SESSION_ID_MIN} characters" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert len(str(caught.value)) < 400


def test_agentcores_ids_within_the_rule_are_accepted():
    session_type = boto3.client("bedrock-agentcore", region_name="us-east-1").meta.service_model.shape_for(
        "SessionType"
    )
    for session_id in ("x" * session_type.metadata["min"], "Ab9._-" * 42 + "abcd", str(uuid.uuid4()) + "-x"):
        assert session_type.metadata["min"] <= len(session_id) <= session_type.metadata["max"]
        assert parse_session_id(session_id) == session_id


def test_plan_review_fields():
    invocation = parse_invocation(
        {"prompt": "매출", "planReview": True, "planReviewTimeoutSeconds": 120, "planReviewOnTimeout": "cancel"},
        artifact_bucket="b",
    )
    assert (invocation.plan_review, invocation.plan_review_timeout_seconds, invocation.plan_review_on_timeout) == (
        True,
        120,
        "cancel",
    )
    plain = parse_invocation({"prompt": "매출"}, artifact_bucket="b")
    assert (plain.plan_review, plain.plan_review_timeout_seconds, plain.plan_review_on_timeout) == (
        False,
        600,
        "proceed",
    )


@pytest.mark.parametrize(
    ("fields", "bucket", "message"),
    [
        ({"planReview": "yes"}, "b", "planReview must be true or false"),
        (
            {"planReviewTimeoutSeconds": 5},
            "b",
            "planReviewTimeoutSeconds must be a whole number of seconds from 10 to 3600, not 5",
        ),
        ({"planReviewTimeoutSeconds": True}, "b", "planReviewTimeoutSeconds must be"),
        ({"planReviewOnTimeout": "wait"}, "b", "planReviewOnTimeout must be proceed or cancel, not 'wait'"),
    ],
)
def test_bad_plan_review_fields_are_one_line_errors(fields, bucket, message):
    with pytest.raises(PayloadError, match=re.escape(message)):
        parse_invocation({"prompt": "매출", **fields}, artifact_bucket=bucket)


def test_local_files_are_accepted_only_by_a_runtime_without_a_bucket_and_only_under_its_data_folders():
    folders = (Path("/data"),)
    local = parse_invocation(
        {"prompt": "매출", "data": ["file:///data/sales.csv"]}, artifact_bucket=None, data_dirs=folders
    )
    assert local.data == ("file:///data/sales.csv",)
    with pytest.raises(
        PayloadError, match=re.escape("data entry 'file:///data/sales.csv' is not an s3://bucket/key URI")
    ):
        parse_invocation({"prompt": "매출", "data": ["file:///data/sales.csv"]}, artifact_bucket="b", data_dirs=folders)
    with pytest.raises(PayloadError, match="is not a file:///absolute/path URI"):
        parse_invocation({"prompt": "매출", "data": ["file://host/sales.csv"]}, artifact_bucket=None, data_dirs=folders)
    with pytest.raises(
        PayloadError,
        match=re.escape(
            "data entry 'file:///data/sales.csv' is a local file, and this agent takes none;"
            " start it with --data-dir DIR to take files under DIR"
        ),
    ):
        parse_invocation({"prompt": "매출", "data": ["file:///data/sales.csv"]}, artifact_bucket=None)
    for outside in ("file:///etc/shadow", "file:///data", "file:///database/x.csv", "file:////data/x.csv"):
        with pytest.raises(PayloadError, match=re.escape(f"data entry {outside!r} is outside the data folder /data;")):
            parse_invocation({"prompt": "매출", "data": [outside]}, artifact_bucket=None, data_dirs=folders)
    for climbing in ("file:///data/../etc/shadow", "file:///data/%2E%2E/etc/shadow"):
        with pytest.raises(PayloadError, match=re.escape("names its file through '..'")):
            parse_invocation({"prompt": "매출", "data": [climbing]}, artifact_bucket=None, data_dirs=folders)


def test_two_inputs_of_one_name_are_refused():
    data = ["file:///a/sales.csv", "file:///b/sales.csv"]
    with pytest.raises(PayloadError, match="two files of the same name"):
        parse_invocation({"prompt": "매출", "data": data}, artifact_bucket=None, data_dirs=(Path("/a"), Path("/b")))


def test_plan_review_needs_no_bucket():
    assert parse_invocation({"prompt": "매출", "planReview": True}, artifact_bucket=None).plan_review
