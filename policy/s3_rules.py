"""S3 rules: every bucket has a complete public access block and default encryption."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
    StackValidationPolicy,
)

if __package__:  # imported as part of the policy package (the tests, deep-insight plan)
    from . import rule_kit
else:  # run by the Pulumi CLI, with the pack's directory as sys.path[0]
    import rule_kit  # pyright: ignore[reportMissingImports]

PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
SSE_ALGORITHMS = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})


@rule_kit.resource_rule(
    "s3-public-access-block-complete",
    "S3 public access blocks set all four flags (blockPublicAcls, blockPublicPolicy, ignorePublicAcls, "
    "restrictPublicBuckets).",
    (rule_kit.PUBLIC_ACCESS_BLOCK,),
)
def s3_public_access_block_complete(args: ResourceValidationArgs) -> Iterator[str]:
    off = [flag for flag in PUBLIC_ACCESS_FLAGS if args.props.get(flag) is not True]
    if off:
        yield f"{', '.join(off)} not true"


@rule_kit.resource_rule(
    "s3-encryption-configured",
    "S3 server-side encryption configurations encrypt by default with SSE-S3 or SSE-KMS.",
    (rule_kit.ENCRYPTION,),
)
def s3_encryption_configured(args: ResourceValidationArgs) -> Iterator[str]:
    rules = rule_kit.as_list(args.props.get("rules"))
    if not rules:
        yield "rules is empty: nothing is encrypted by default"
    for index, rule in enumerate(rules):
        algorithm = rule_kit.as_map(rule_kit.as_map(rule).get("applyServerSideEncryptionByDefault")).get("sseAlgorithm")
        if algorithm not in SSE_ALGORITHMS:
            yield f"rules[{index}].applyServerSideEncryptionByDefault.sseAlgorithm is {algorithm!r}"


def _buckets_referenced(resource: PolicyResource) -> set[str]:
    """URNs of the buckets a bucket setting belongs to: the resources its ``bucket`` input came from.

    Property dependencies, not the ``bucket`` value: at preview a new bucket's name is unknown, while the
    dependency is known. Resources that arrive without property dependencies fall back to all dependencies.
    """
    sources = resource.property_dependencies.get("bucket") or resource.dependencies
    return {source.urn for source in sources if source.resource_type in rule_kit.BUCKETS}


def _s3_buckets_guarded(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    guarded: dict[str, set[str]] = {rule_kit.PUBLIC_ACCESS_BLOCK: set(), rule_kit.ENCRYPTION: set()}
    for resource in args.resources:
        if resource.resource_type in guarded:
            guarded[resource.resource_type] |= _buckets_referenced(resource)
    for bucket in args.resources:
        if bucket.resource_type not in rule_kit.BUCKETS:
            continue
        missing = [kind.rsplit(":", 1)[-1] for kind, urns in guarded.items() if bucket.urn not in urns]
        if missing:
            report_violation(f"{bucket.name}: no {' and no '.join(missing)} for this bucket", bucket.urn)


s3_bucket_guarded = StackValidationPolicy(
    name="s3-bucket-guarded",
    description="Every S3 bucket has a BucketPublicAccessBlock and a BucketServerSideEncryptionConfiguration.",
    validate=_s3_buckets_guarded,
)
