"""The rules of the Deep Insight policy pack: what every stack of this project must look like at preview.

Each rule is a pulumi-policy ``ResourceValidationPolicy`` (one resource's inputs and options) or
``StackValidationPolicy`` (every resource's outputs, for rules about how resources relate), named in
kebab-case; `POLICIES` lists them in the order the pack reports them. The rules live by subject in
``network_rules``, ``image_rules``, ``s3_rules`` and ``iam_rules``, with the tag and data-retention rules
here, all reading pulumi-policy's values as ``rule_kit`` describes. They depend on pulumi-policy alone,
because the Pulumi CLI runs the pack in its own virtualenv (``requirements.txt``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy, StackValidationPolicy

if __package__:  # imported as part of the policy package (the tests, deep-insight plan)
    from . import iam_rules, image_rules, network_rules, rule_kit, s3_rules
else:  # run by the Pulumi CLI, with the pack's directory as sys.path[0]
    import iam_rules  # pyright: ignore[reportMissingImports]
    import image_rules  # pyright: ignore[reportMissingImports]
    import network_rules  # pyright: ignore[reportMissingImports]
    import rule_kit  # pyright: ignore[reportMissingImports]
    import s3_rules  # pyright: ignore[reportMissingImports]

STACK_TAG = "deep-insight:stack"
RETAIN_DATA_TAG = "deep-insight:retain-data"  # deep_insight_contract.tags (tests keep them equal)

# AWS resource types that accept no ``tags`` (pulumi-aws 7): sub-resources and attachments of something that
# is tagged. The tag rule checks every other ``aws:`` resource, so it fails closed: a taggable resource that
# forgot its tags is caught, and a new untaggable type stops the preview until it is listed here. The pack
# runs without pulumi-aws in its virtualenv, so it cannot ask the SDK class; tests/policy checks this list
# against pulumi-aws (ops.evaluate.is_taggable) and against every type the program declares.
UNTAGGABLE_TYPES = frozenset(
    {
        "aws:ec2/mainRouteTableAssociation:MainRouteTableAssociation",
        "aws:ec2/route:Route",
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        "aws:ec2/securityGroupRule:SecurityGroupRule",
        "aws:ec2/vpcEndpointRouteTableAssociation:VpcEndpointRouteTableAssociation",
        "aws:ec2/vpcEndpointSubnetAssociation:VpcEndpointSubnetAssociation",
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        "aws:ecr/repositoryPolicy:RepositoryPolicy",
        "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders",
        "aws:iam/groupPolicy:GroupPolicy",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/userPolicy:UserPolicy",
        "aws:lb/targetGroupAttachment:TargetGroupAttachment",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketLogging:BucketLogging",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketVersioning:BucketVersioning",
    }
)


@rule_kit.resource_rule(
    "retain-data-protected",
    f"ECR repositories and S3 buckets carry the tag {RETAIN_DATA_TAG} ('true' or 'false', from "
    "deep-insight:retainData); those tagged 'true' are protected and never force-deleted.",
    (rule_kit.REPOSITORY, *rule_kit.BUCKETS),
)
def retain_data_protected(args: ResourceValidationArgs) -> Iterator[str]:
    retain = rule_kit.as_map(args.props.get("tags")).get(RETAIN_DATA_TAG)
    if retain not in ("true", "false"):
        yield f"tag {RETAIN_DATA_TAG} is {retain!r}; set 'true' or 'false' from deep-insight:retainData"
        return
    if retain == "false":
        return
    if not args.opts.protect:
        yield f"tagged {RETAIN_DATA_TAG}=true but not protected; set protect=True (and retain_on_delete=True)"
    force = "forceDelete" if args.resource_type == rule_kit.REPOSITORY else "forceDestroy"
    if args.props.get(force) is True:
        yield f"tagged {RETAIN_DATA_TAG}=true but {force} is true, which would delete its contents with it"


@rule_kit.resource_rule(
    "stack-tag-on-taggable-resources",
    f"Every taggable AWS resource carries the tag {STACK_TAG} (the reaper and the IAM conditions rely on it).",
    None,
)
def stack_tag_on_taggable_resources(args: ResourceValidationArgs) -> Iterator[str]:
    if not args.resource_type.startswith("aws:") or args.resource_type in UNTAGGABLE_TYPES:
        return
    value = rule_kit.as_map(args.props.get("tags")).get(STACK_TAG)
    if not value:
        yield (
            f"tag {STACK_TAG} is missing; pass the stack's tags (ResourceTags.named), or, if "
            f"{args.resource_type} cannot carry tags, add it to UNTAGGABLE_TYPES in policy/rules.py"
        )
        return
    # The CLI tells the pack which stack it analyses; the last segment is the name (org/project/stack).
    stack = os.environ.get("PULUMI_STACK", "").rsplit("/", 1)[-1]
    if stack and value != stack:
        yield f"tag {STACK_TAG} is {value!r} but the stack is {stack!r}"


POLICIES: tuple[ResourceValidationPolicy | StackValidationPolicy, ...] = (
    network_rules.no_internet_ingress,
    network_rules.alb_internal,
    network_rules.agentcore_runtime_vpc_mode,
    network_rules.subnet_placed_by_az_id,
    network_rules.interface_endpoint_private_dns,
    network_rules.vpc_endpoint_policy,
    network_rules.log_group_retention,
    image_rules.ecr_scan_on_push,
    image_rules.ecr_rebuildable_tags,
    image_rules.images_pinned_by_digest,
    s3_rules.s3_public_access_block_complete,
    s3_rules.s3_encryption_configured,
    s3_rules.s3_bucket_guarded,
    iam_rules.iam_no_wildcard_actions,
    iam_rules.iam_no_aws_managed_policies,
    retain_data_protected,
    stack_tag_on_taggable_resources,
)
