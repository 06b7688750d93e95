"""Artifacts bucket (and the prod access-log bucket) under mocks."""

from __future__ import annotations

import json

import pytest
from deep_insight_contract.tags import RETAIN_DATA_TAG

from components.bucket import bucket_prefix
from tests.conftest import key

BUCKET = "aws:s3/bucket:Bucket"


def settings_of(evaluation, component: str) -> dict[str, dict]:
    parent = evaluation.named(component, "deep-insight:bucket:PrivateBucket")
    return {r.type.rsplit(":", 1)[-1]: r for r in evaluation.children_of(parent)}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_artifacts_bucket_is_locked_down(request, stack):
    evaluation = request.getfixturevalue(stack)
    parts = settings_of(evaluation, "artifacts")
    bucket = parts["Bucket"]
    assert bucket.inputs["bucketPrefix"] == f"deep-insight-{stack}-artifacts-"
    assert parts["BucketOwnershipControls"].inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    block = parts["BucketPublicAccessBlock"].inputs
    assert all(
        block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    (rule,) = parts["BucketServerSideEncryptionConfiguration"].inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    policy = json.loads(parts["BucketPolicy"].inputs["policy"])
    (deny,) = policy["Statement"]
    assert deny["Resource"] == [bucket.state["arn"], f"{bucket.state['arn']}/*"]
    assert parts["BucketPublicAccessBlock"].urn in parts["BucketPolicy"].dependencies
    assert evaluation.outputs["artifactBucket"] == bucket.state["bucket"]


def test_sessions_expire_after_the_configured_days(dev, evaluate_stack):
    rules = {r["id"]: r for r in settings_of(dev, "artifacts")["BucketLifecycleConfiguration"].inputs["rules"]}
    assert rules["expire-sessions"]["filter"] == {"prefix": "sessions/"}
    assert rules["expire-sessions"]["expiration"] == {"days": 30}
    assert rules["abort-incomplete-uploads"]["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 1}
    changed = evaluate_stack("dev", {key("artifacts.expireAfterDays"): "7"})
    rules = {r["id"]: r for r in settings_of(changed, "artifacts")["BucketLifecycleConfiguration"].inputs["rules"]}
    assert rules["expire-sessions"]["expiration"] == {"days": 7}


def test_dev_bucket_is_disposable_and_prod_bucket_is_kept(dev, prod):
    dev_parts, prod_parts = settings_of(dev, "artifacts"), settings_of(prod, "artifacts")
    assert dev_parts["Bucket"].inputs["forceDestroy"] is True
    assert (dev_parts["Bucket"].protect, dev_parts["Bucket"].retain_on_delete) == (False, False)
    assert dev_parts["Bucket"].inputs["tags"][RETAIN_DATA_TAG] == "false"
    assert "BucketVersioning" not in dev_parts
    assert prod_parts["Bucket"].inputs["forceDestroy"] is False
    assert (prod_parts["Bucket"].protect, prod_parts["Bucket"].retain_on_delete) == (True, True)
    assert prod_parts["Bucket"].inputs["tags"][RETAIN_DATA_TAG] == "true"
    assert prod_parts["BucketVersioning"].inputs["versioningConfiguration"] == {"status": "Enabled"}
    rules = {r["id"]: r for r in prod_parts["BucketLifecycleConfiguration"].inputs["rules"]}
    assert rules["expire-sessions"]["noncurrentVersionExpiration"] == {"noncurrentDays": 30}


def test_access_log_bucket_only_where_access_logs_are_on(dev, prod):
    assert [r for r in dev.resources if r.name.startswith("alb-logs")] == []
    parts = settings_of(prod, "alb-logs")
    policy = json.loads(parts["BucketPolicy"].inputs["policy"])
    sids = {s["Sid"] for s in policy["Statement"]}
    assert sids == {"DenyInsecureTransport", "ElbAccountDelivery", "ElbServiceDelivery"}
    # ALB log delivery supports SSE-S3 only.
    (rule,) = parts["BucketServerSideEncryptionConfiguration"].inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}


@pytest.mark.parametrize(
    ("prefix", "purpose", "expected"),
    [
        ("deep-insight-dev", "artifacts", "deep-insight-dev-artifacts-"),
        ("deep-insight-Feature_X", "alb-logs", "deep-insight-feature-x-alb-logs-"),
        ("deep-insight-" + "a" * 40, "artifacts", "deep-insight-" + "a" * 23 + "-"),
    ],
)
def test_bucket_prefix_is_valid_and_short(prefix, purpose, expected):
    assert bucket_prefix(prefix, purpose) == expected
    assert len(expected) <= 37
