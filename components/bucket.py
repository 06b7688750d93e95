"""A locked-down S3 bucket: SSE-S3, public access blocked, ACLs off, TLS only, lifecycle, optional versioning.

Used for the artifacts bucket and, in stacks with ``alb.accessLogs``, the ALB's access-log bucket (ALB
log delivery supports SSE-S3 only, which is why both use it). With ``retain`` the bucket is protected
(``pulumi destroy`` refuses) and retained on delete, and never force-emptied; its
``deep-insight:retain-data`` tag says so to the policy pack.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
from deep_insight_contract.tags import RETAIN_DATA_TAG

from components.iam import Document, Statement, analyst_session_statements, session_object_statements
from components.settings import ResourceTags

BUCKET_PREFIX_MAX = 37  # AWS: bucket_prefix leaves room for the 26-character unique suffix

# On every bucket and ECR repository: whether this stack keeps it (deep-insight:retainData). A policy pack
# cannot read stack config, so the policy `retain-data-protected` (policy/rules.py) reads this tag and
# requires a resource tagged "true" to be protected.


def retain_data_tag(retain: bool) -> dict[str, str]:
    return {RETAIN_DATA_TAG: "true" if retain else "false"}


def bucket_prefix(stack_prefix: str, purpose: str) -> str:
    """A readable, valid bucket-name prefix such as ``deep-insight-dev-artifacts-``."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", f"{stack_prefix}-{purpose}".lower()).strip("-")
    return cleaned[: BUCKET_PREFIX_MAX - 1].rstrip("-") + "-"


@dataclass(frozen=True)
class BucketArgs:
    purpose: str
    tags: ResourceTags
    retain: bool
    versioning: bool
    policy: Callable[[str], Document]
    """The bucket policy as a function of the bucket ARN (see components.iam)."""
    expire_prefix: str | None = None
    expire_after_days: int | None = None


class PrivateBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    policy: aws.s3.BucketPolicy
    """The bucket policy: what may write to the bucket (ALB log delivery, say) waits on it with depends_on."""

    def session_object_statements(self) -> pulumi.Output[list[Statement]]:
        """Read, write and list the session objects (``sessions/*``) of this bucket, and nothing else of it."""
        return self.bucket_arn.apply(session_object_statements)

    def analyst_session_statements(self) -> pulumi.Output[list[Statement]]:
        """What a person running jobs needs of this bucket: a session's inputs and plan decisions in, its
        results out (``components.iam.analyst_session_statements``)."""
        return self.bucket_arn.apply(analyst_session_statements)

    def __init__(self, name: str, args: BucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("deep-insight:bucket:PrivateBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket_prefix=bucket_prefix(args.tags.prefix, args.purpose),
            force_destroy=not args.retain,
            tags=args.tags.named(args.purpose, **retain_data_tag(args.retain)),
            opts=pulumi.ResourceOptions(parent=self, protect=args.retain, retain_on_delete=args.retain),
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},  # ACLs disabled
            opts=child,
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=child,
        )
        if args.versioning:
            aws.s3.BucketVersioning(
                f"{name}-versioning",
                bucket=bucket.id,
                versioning_configuration={"status": "Enabled"},
                opts=child,
            )
        rules = [
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="abort-incomplete-uploads",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=1
                ),
            )
        ]
        if args.expire_after_days is not None:
            rules.append(
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id=f"expire-{(args.expire_prefix or 'all').strip('/')}",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=args.expire_prefix or ""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=args.expire_after_days),
                    noncurrent_version_expiration=(
                        aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                            noncurrent_days=args.expire_after_days
                        )
                        if args.versioning
                        else None
                    ),
                )
            )
        aws.s3.BucketLifecycleConfiguration(f"{name}-lifecycle", bucket=bucket.id, rules=rules, opts=child)
        self.policy = aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=bucket.arn.apply(lambda arn: json.dumps(args.policy(arn))),
            # S3 rejects a policy while the public-access block is still being applied.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.register_outputs({"bucketName": self.bucket_name, "bucketArn": self.bucket_arn})
