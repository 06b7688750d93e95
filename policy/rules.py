"""The rules of the Deep Insight policy pack: what every stack of this project must look like at preview.

Each rule is a pulumi-policy ``ResourceValidationPolicy`` (one resource's inputs and options) or
``StackValidationPolicy`` (every resource's outputs, for rules about how resources relate), named in
kebab-case; `POLICIES` lists them in the order the pack reports them. The module depends on
pulumi-policy alone, because the Pulumi CLI runs the pack in its own virtualenv (``requirements.txt``).

How pulumi-policy hands over values shapes the code:

* ``props`` are engine-side (camelCase) property maps wrapped in read-only ``Mapping``/``Sequence`` proxies,
  not dicts and lists, so nothing here tests ``isinstance(x, dict)``; numbers arrive as floats.
* During ``pulumi preview`` a value that depends on a resource not yet created is unknown, and reading it
  raises ``UnknownValueError``; pulumi-policy turns that into an advisory "can't run during preview" note
  for that rule and resource, and ``pulumi up`` runs the rule again once the value is known. So the rules
  read only the properties they judge (a ``len`` of a list, never its unknown elements) and never catch
  that error. Digest-pinned images of a first deployment are such a case: they exist only after the build.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

STACK_TAG = "deep-insight:stack"
RETAIN_DATA_TAG = "deep-insight:retain-data"  # deep_insight_contract.tags (tests keep them equal)

# --- resource types (pulumi-aws 7 tokens) ---
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LOAD_BALANCERS = (
    "aws:lb/loadBalancer:LoadBalancer",
    "aws:alb/loadBalancer:LoadBalancer",
    "aws:elb/loadBalancer:LoadBalancer",
)
AGENT_RUNTIME = "aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime"
SUBNET = "aws:ec2/subnet:Subnet"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
REPOSITORY = "aws:ecr/repository:Repository"
BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
ROLE = "aws:iam/role:Role"
# Resources whose ``policy`` input is one IAM policy document (JSON text, or an object from non-Python SDKs).
POLICY_DOCUMENTS = (
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:ecr/repositoryPolicy:RepositoryPolicy",
)
# Where a resource attaches managed policies by ARN: type -> (input, whether it holds a list of ARNs).
POLICY_ARN_INPUTS: Mapping[str, tuple[str, bool]] = {
    ROLE: ("managedPolicyArns", True),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("policyArn", False),
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": ("policyArn", False),
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": ("policyArn", False),
    "aws:iam/policyAttachment:PolicyAttachment": ("policyArn", False),
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": ("policyArns", True),
    "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive": ("policyArns", True),
    "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive": ("policyArns", True),
}
# AWS-managed policies the program may attach, by what follows ``:policy/`` in the ARN (path and name, e.g.
# "service-role/AmazonECSTaskExecutionRolePolicy"), so one entry holds in every partition. Empty: the
# program attaches none (tests/policy checks the dev and prod evaluations).
AWS_MANAGED_POLICY_ALLOWLIST: frozenset[str] = frozenset()

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

PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
SSE_ALGORITHMS = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})
DIGEST_PINNED = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")
# arn:<partition>:iam::aws:policy/<path><name>: the account field "aws" marks a policy AWS owns.
AWS_MANAGED_POLICY_ARN = re.compile(r"^arn:[^:]+:iam::aws:policy/(?P<policy>.+)$")

Check = Callable[[ResourceValidationArgs], Iterable[str]]


def _items(value: Any) -> list[Any]:
    """A list input as a list (absent: empty; a lone string, as some inputs allow: one item)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence):
        return list(value)
    return [value]


def _count(value: Any) -> int:
    """How many items a list input has, without reading them (at preview they may be unknown)."""
    if value is None:
        return 0
    return len(value) if isinstance(value, Sequence) and not isinstance(value, str) else 1


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def resource_rule(
    name: str, description: str, types: Iterable[str] | None
) -> Callable[[Check], ResourceValidationPolicy]:
    """Make a check (resource args -> violation messages) a policy that runs on ``types`` (None: every type)."""
    wanted = frozenset(types) if types is not None else None

    def wrap(check: Check) -> ResourceValidationPolicy:
        def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
            if wanted is not None and args.resource_type not in wanted:
                return
            for message in check(args):
                report_violation(f"{args.name}: {message}", None)

        return ResourceValidationPolicy(name=name, description=description, validate=validate)

    return wrap


# --- network ---


def _anywhere(cidr: Any) -> bool:
    """0.0.0.0/0, ::/0 and every other spelling of a /0."""
    try:
        return ipaddress.ip_network(str(cidr), strict=False).prefixlen == 0
    except ValueError:
        return False


def _ports(rule: Mapping[str, Any]) -> str:
    def shown(port: Any) -> str:  # ports arrive as floats (443.0)
        return f"{port:g}" if isinstance(port, int | float) else str(port)

    low, high = rule.get("fromPort"), rule.get("toPort")
    if low is None:
        return "all ports"
    return f"port {shown(low)}" if low == high else f"ports {shown(low)}-{shown(high)}"


@resource_rule(
    "no-internet-ingress",
    "Security groups admit no traffic from 0.0.0.0/0 or ::/0: every path into the VPC's groups names its peer.",
    (SECURITY_GROUP, INGRESS_RULE, SECURITY_GROUP_RULE),
)
def no_internet_ingress(args: ResourceValidationArgs) -> Iterator[str]:
    props = args.props
    if args.resource_type == SECURITY_GROUP:
        for index, rule in enumerate(map(_map, _items(props.get("ingress")))):
            for key in ("cidrBlocks", "ipv6CidrBlocks"):
                for cidr in _items(rule.get(key)):
                    if _anywhere(cidr):
                        yield f"inline ingress[{index}].{key} admits {cidr} on {_ports(rule)}"
    elif args.resource_type == INGRESS_RULE:
        for key in ("cidrIpv4", "cidrIpv6"):
            if _anywhere(props.get(key)):
                yield f"{key} {props.get(key)} admits the whole internet on {_ports(props)}"
    elif props.get("type") == "ingress":
        for key in ("cidrBlocks", "ipv6CidrBlocks"):
            for cidr in _items(props.get(key)):
                if _anywhere(cidr):
                    yield f"ingress rule {key} admits {cidr} on {_ports(props)}"


@resource_rule(
    "alb-internal",
    "Load balancers are internal: the executor ALB is reached only from the agent's security group.",
    LOAD_BALANCERS,
)
def alb_internal(args: ResourceValidationArgs) -> Iterator[str]:
    if args.props.get("internal") is not True:
        yield f"internal is {args.props.get('internal')!r}, so the load balancer is internet-facing; set internal=True"


@resource_rule(
    "agentcore-runtime-vpc-mode",
    "AgentCore runtimes run in VPC mode, with subnets and security groups (networkModeConfig).",
    (AGENT_RUNTIME,),
)
def agentcore_runtime_vpc_mode(args: ResourceValidationArgs) -> Iterator[str]:
    network = _map(args.props.get("networkConfiguration"))
    mode = network.get("networkMode")
    if mode != "VPC":
        yield f"networkConfiguration.networkMode is {mode!r}, not 'VPC'"
        return
    config = _map(network.get("networkModeConfig"))
    for key in ("subnets", "securityGroups"):
        if _count(config.get(key)) == 0:
            yield f"networkConfiguration.networkModeConfig.{key} is empty; VPC mode needs the agent {key}"


@resource_rule(
    "subnet-placed-by-az-id",
    "Subnets are placed by availabilityZoneId, never by AZ name (names map to different AZs in each account).",
    (SUBNET,),
)
def subnet_placed_by_az_id(args: ResourceValidationArgs) -> Iterator[str]:
    if args.props.get("availabilityZone"):
        yield (
            f"availabilityZone is {args.props.get('availabilityZone')!r}; an AZ name is a different AZ in each "
            "account: set availabilityZoneId instead"
        )
    if not args.props.get("availabilityZoneId"):
        yield "availabilityZoneId is not set; place the subnet in an AgentCore-supported AZ ID"


@resource_rule(
    "interface-endpoint-private-dns",
    "Interface VPC endpoints enable private DNS, so the SDKs' default hostnames resolve to them.",
    (VPC_ENDPOINT,),
)
def interface_endpoint_private_dns(args: ResourceValidationArgs) -> Iterator[str]:
    if args.props.get("vpcEndpointType") == "Interface" and args.props.get("privateDnsEnabled") is not True:
        service = args.props.get("serviceName")
        yield f"interface endpoint for {service} has privateDnsEnabled {args.props.get('privateDnsEnabled')!r}"


@resource_rule(
    "log-group-retention",
    "CloudWatch log groups set a retention (deep-insight:logRetentionDays), never keep-forever.",
    (LOG_GROUP,),
)
def log_group_retention(args: ResourceValidationArgs) -> Iterator[str]:
    days = args.props.get("retentionInDays")
    if not days or days <= 0:
        yield f"retentionInDays is {days!r}, so events are kept forever; set logRetentionDays"


# --- container images ---


@resource_rule(
    "ecr-scan-on-push",
    "ECR repositories scan every pushed image for vulnerabilities.",
    (REPOSITORY,),
)
def ecr_scan_on_push(args: ResourceValidationArgs) -> Iterator[str]:
    scanning = _map(args.props.get("imageScanningConfiguration"))
    if scanning.get("scanOnPush") is not True:
        yield f"imageScanningConfiguration.scanOnPush is {scanning.get('scanOnPush')!r}; set it to true"


@resource_rule(
    "ecr-rebuildable-tags",
    "ECR repositories keep tags MUTABLE: a tag names a build context, and rebuilding it (Docker builds are not "
    "bit-reproducible) must move the tag, not fail the push; what runs is pinned by digest.",
    (REPOSITORY,),
)
def ecr_rebuildable_tags(args: ResourceValidationArgs) -> Iterator[str]:
    mutability = args.props.get("imageTagMutability")
    if mutability not in (None, "MUTABLE"):
        yield (
            f"imageTagMutability is {mutability!r}; set MUTABLE (a rebuild of an unchanged context pushes a new "
            "digest under its tag, which ECR rejects with ImageTagAlreadyExistsException)"
        )


def _unpinned(uri: Any) -> bool:
    return not (isinstance(uri, str) and DIGEST_PINNED.match(uri))


@resource_rule(
    "images-pinned-by-digest",
    "Task definitions and AgentCore runtimes reference images by digest (<repository>@sha256:<64 hex>), "
    "so a code change rolls them and nothing else.",
    (TASK_DEFINITION, AGENT_RUNTIME),
)
def images_pinned_by_digest(args: ResourceValidationArgs) -> Iterator[str]:
    if args.resource_type == TASK_DEFINITION:
        definitions = args.props.get("containerDefinitions")
        if isinstance(definitions, str):
            try:
                definitions = json.loads(definitions)
            except ValueError:
                yield "containerDefinitions is not valid JSON, so its images cannot be checked"
                return
        for container in map(_map, _items(definitions)):
            if _unpinned(container.get("image")):
                yield f"container {container.get('name')!r} image {container.get('image')!r} is not digest-pinned"
    else:
        artifact = _map(args.props.get("agentRuntimeArtifact"))
        if "containerConfiguration" in artifact:
            uri = _map(artifact.get("containerConfiguration")).get("containerUri")
            if _unpinned(uri):
                yield f"agentRuntimeArtifact.containerConfiguration.containerUri {uri!r} is not digest-pinned"


# --- S3 ---


@resource_rule(
    "s3-public-access-block-complete",
    "S3 public access blocks set all four flags (blockPublicAcls, blockPublicPolicy, ignorePublicAcls, "
    "restrictPublicBuckets).",
    (PUBLIC_ACCESS_BLOCK,),
)
def s3_public_access_block_complete(args: ResourceValidationArgs) -> Iterator[str]:
    off = [flag for flag in PUBLIC_ACCESS_FLAGS if args.props.get(flag) is not True]
    if off:
        yield f"{', '.join(off)} not true"


@resource_rule(
    "s3-encryption-configured",
    "S3 server-side encryption configurations encrypt by default with SSE-S3 or SSE-KMS.",
    (ENCRYPTION,),
)
def s3_encryption_configured(args: ResourceValidationArgs) -> Iterator[str]:
    rules = _items(args.props.get("rules"))
    if not rules:
        yield "rules is empty: nothing is encrypted by default"
    for index, rule in enumerate(rules):
        algorithm = _map(_map(rule).get("applyServerSideEncryptionByDefault")).get("sseAlgorithm")
        if algorithm not in SSE_ALGORITHMS:
            yield f"rules[{index}].applyServerSideEncryptionByDefault.sseAlgorithm is {algorithm!r}"


def _buckets_referenced(resource: PolicyResource) -> set[str]:
    """URNs of the buckets a bucket setting belongs to: the resources its ``bucket`` input came from.

    Property dependencies, not the ``bucket`` value: at preview a new bucket's name is unknown, while the
    dependency is known. Resources that arrive without property dependencies fall back to all dependencies.
    """
    sources = resource.property_dependencies.get("bucket") or resource.dependencies
    return {source.urn for source in sources if source.resource_type in BUCKETS}


def _s3_buckets_guarded(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    guarded: dict[str, set[str]] = {PUBLIC_ACCESS_BLOCK: set(), ENCRYPTION: set()}
    for resource in args.resources:
        if resource.resource_type in guarded:
            guarded[resource.resource_type] |= _buckets_referenced(resource)
    for bucket in args.resources:
        if bucket.resource_type not in BUCKETS:
            continue
        missing = [kind.rsplit(":", 1)[-1] for kind, urns in guarded.items() if bucket.urn not in urns]
        if missing:
            report_violation(f"{bucket.name}: no {' and no '.join(missing)} for this bucket", bucket.urn)


s3_bucket_guarded = StackValidationPolicy(
    name="s3-bucket-guarded",
    description="Every S3 bucket has a BucketPublicAccessBlock and a BucketServerSideEncryptionConfiguration.",
    validate=_s3_buckets_guarded,
)


# --- IAM ---


def _documents(args: ResourceValidationArgs) -> Iterator[tuple[str, Any]]:
    """(where, document) for every IAM policy document in the resource's inputs."""
    if args.resource_type == ROLE:
        yield "assumeRolePolicy", args.props.get("assumeRolePolicy")
        for index, inline in enumerate(_items(args.props.get("inlinePolicies"))):
            yield f"inlinePolicies[{index}] ({_map(inline).get('name')})", _map(inline).get("policy")
    else:
        yield "policy", args.props.get("policy")


def wildcard_grants(document: Any) -> Iterator[str]:
    """Allow statements that grant ``*``, a whole service (``s3:*``) or everything but a list (NotAction).

    A Deny may use a wildcard: the buckets' TLS-only statement denies ``s3:*`` so that it covers every S3
    action, current and future.
    """
    statements = _map(document).get("Statement")
    for index, statement in enumerate(map(_map, _items(statements))):
        if statement.get("Effect") != "Allow":
            continue
        label = statement.get("Sid") or f"Statement[{index}]"
        if "NotAction" in statement:
            yield f"{label} allows NotAction, i.e. every action but those listed"
        for action in _items(statement.get("Action")):
            if isinstance(action, str) and (action == "*" or action.endswith(":*")):
                yield f"{label} allows {action!r}"


@resource_rule(
    "iam-no-wildcard-actions",
    "IAM and bucket policies allow named actions only: no '*', no 'service:*', no Allow with NotAction.",
    (ROLE, *POLICY_DOCUMENTS),
)
def iam_no_wildcard_actions(args: ResourceValidationArgs) -> Iterator[str]:
    for where, text in _documents(args):
        if text is None or text == "":
            continue
        try:
            document = json.loads(text) if isinstance(text, str) else text
        except ValueError:
            yield f"{where} is not valid JSON, so its actions cannot be checked"
            continue
        for grant in wildcard_grants(document):
            yield f"{where}: {grant}; name the actions one by one"


def aws_managed_policy(arn: Any) -> str | None:
    """The path and name of an AWS-managed policy ARN (``arn:<partition>:iam::aws:policy/...``), else None."""
    match = AWS_MANAGED_POLICY_ARN.match(arn) if isinstance(arn, str) else None
    return match.group("policy") if match else None


@resource_rule(
    "iam-no-aws-managed-policies",
    "Roles, users and groups get no AWS-managed policy (arn:<partition>:iam::aws:policy/...): those are broad "
    "and AWS changes them; attach customer-managed policies, whose documents the pack checks.",
    tuple(POLICY_ARN_INPUTS),
)
def iam_no_aws_managed_policies(args: ResourceValidationArgs) -> Iterator[str]:
    key, many = POLICY_ARN_INPUTS[args.resource_type]
    value = args.props.get(key)
    arns = enumerate(_items(value)) if many else [(None, value)]
    for index, arn in arns:
        policy = aws_managed_policy(arn)
        if policy is not None and policy not in AWS_MANAGED_POLICY_ALLOWLIST:
            where = key if index is None else f"{key}[{index}]"
            yield (
                f"{where} {arn!r} is an AWS-managed policy; attach a customer-managed policy that names the "
                "actions (or, if it must be this one, add it to AWS_MANAGED_POLICY_ALLOWLIST in policy/rules.py)"
            )


# --- data retention and tags ---


@resource_rule(
    "retain-data-protected",
    f"ECR repositories and S3 buckets carry the tag {RETAIN_DATA_TAG} ('true' or 'false', from "
    "deep-insight:retainData); those tagged 'true' are protected and never force-deleted.",
    (REPOSITORY, *BUCKETS),
)
def retain_data_protected(args: ResourceValidationArgs) -> Iterator[str]:
    retain = _map(args.props.get("tags")).get(RETAIN_DATA_TAG)
    if retain not in ("true", "false"):
        yield f"tag {RETAIN_DATA_TAG} is {retain!r}; set 'true' or 'false' from deep-insight:retainData"
        return
    if retain == "false":
        return
    if not args.opts.protect:
        yield f"tagged {RETAIN_DATA_TAG}=true but not protected; set protect=True (and retain_on_delete=True)"
    force = "forceDelete" if args.resource_type == REPOSITORY else "forceDestroy"
    if args.props.get(force) is True:
        yield f"tagged {RETAIN_DATA_TAG}=true but {force} is true, which would delete its contents with it"


@resource_rule(
    "stack-tag-on-taggable-resources",
    f"Every taggable AWS resource carries the tag {STACK_TAG} (the reaper and the IAM conditions rely on it).",
    None,
)
def stack_tag_on_taggable_resources(args: ResourceValidationArgs) -> Iterator[str]:
    if not args.resource_type.startswith("aws:") or args.resource_type in UNTAGGABLE_TYPES:
        return
    value = _map(args.props.get("tags")).get(STACK_TAG)
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
    no_internet_ingress,
    alb_internal,
    agentcore_runtime_vpc_mode,
    subnet_placed_by_az_id,
    interface_endpoint_private_dns,
    log_group_retention,
    ecr_scan_on_push,
    ecr_rebuildable_tags,
    images_pinned_by_digest,
    s3_public_access_block_complete,
    s3_encryption_configured,
    s3_bucket_guarded,
    iam_no_wildcard_actions,
    iam_no_aws_managed_policies,
    retain_data_protected,
    stack_tag_on_taggable_resources,
)
