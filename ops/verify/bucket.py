"""Artifacts bucket checks: default encryption, public access block, TLS-only policy."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from ops.verify.context import CheckList, Context, Result, error_code, listing

CHECKS = CheckList()
check = CHECKS.add


@check("Bucket encryption")
def bucket_encryption(ctx: Context) -> Result:
    bucket = ctx.outputs["artifactBucket"]
    try:
        configuration = ctx.client("s3").get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    except ClientError as error:
        if error_code(error) != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        return False, f"{bucket} has no default encryption"
    algorithms = [
        r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in configuration.get("Rules", [])
    ]
    if not any(algorithms):
        return False, f"{bucket} has no default encryption"
    return True, f"{bucket} encrypts by default ({listing(a for a in algorithms if a)})"


@check("Bucket public access")
def bucket_public_access(ctx: Context) -> Result:
    bucket = ctx.outputs["artifactBucket"]
    try:
        block = ctx.client("s3").get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError as error:
        if error_code(error) != "NoSuchPublicAccessBlockConfiguration":
            raise
        return False, f"{bucket} has no public access block"
    flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    off = [flag for flag in flags if not block.get(flag)]
    if off:
        return False, f"{bucket} public access block has {listing(off)} off; all four must be on"
    return True, f"{bucket} blocks public access (all four settings on)"


def denies_plain_http(statement: Mapping[str, Any]) -> bool:
    actions = statement.get("Action", [])
    actions = [actions] if isinstance(actions, str) else actions
    principal = statement.get("Principal")
    condition = statement.get("Condition", {}).get("Bool", {})
    return (
        statement.get("Effect") == "Deny"
        and principal in ("*", {"AWS": "*"})
        and any(a in ("s3:*", "*") for a in actions)
        and str(condition.get("aws:SecureTransport", "")).lower() == "false"
    )


@check("Bucket TLS only")
def bucket_tls_only(ctx: Context) -> Result:
    bucket = ctx.outputs["artifactBucket"]
    try:
        policy = json.loads(ctx.client("s3").get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as error:
        if error_code(error) != "NoSuchBucketPolicy":
            raise
        return False, f"{bucket} has no bucket policy; it should deny requests without TLS"
    statements = policy.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    if not any(denies_plain_http(s) for s in statements):
        return False, f"{bucket} policy does not deny s3:* when aws:SecureTransport is false"
    return True, f"{bucket} policy denies every request without TLS"
