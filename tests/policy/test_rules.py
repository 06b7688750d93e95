"""The policy pack's rules (policy/rules.py and its *_rules.py modules) on the real program: dev and prod pass, crafted violations fail.

Rules are called as pulumi-policy calls them, through `policy.offline` (``validate(args, report_violation)``
with the props behind pulumi-policy's proxies). Each violation case takes the real stack, changes one
resource (an input, an option, or which resources exist) and runs *every* policy: exactly the targeted
rule must object, about that resource, in a message that names what is wrong.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from deep_insight_contract.tags import RETAIN_DATA_TAG as PROGRAM_RETAIN_DATA_TAG
from deep_insight_contract.tags import STACK_TAG as PROGRAM_STACK_TAG
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from ops.evaluate import Declared, Evaluation, is_taggable
from policy import iam_rules, image_rules, rules
from policy.offline import resource_args, run_policies
from policy.rules import POLICIES
from tests.aws_reference import AWS_DEFAULT_ENDPOINT_POLICY

# The rule list as policy/README.md documents it: name -> (kind of policy).
DOCUMENTED = {
    "no-internet-ingress": ResourceValidationPolicy,
    "alb-internal": ResourceValidationPolicy,
    "agentcore-runtime-vpc-mode": ResourceValidationPolicy,
    "subnet-placed-by-az-id": ResourceValidationPolicy,
    "interface-endpoint-private-dns": ResourceValidationPolicy,
    "vpc-endpoint-policy": ResourceValidationPolicy,
    "log-group-retention": ResourceValidationPolicy,
    "ecr-scan-on-push": ResourceValidationPolicy,
    "ecr-rebuildable-tags": ResourceValidationPolicy,
    "images-pinned-by-digest": ResourceValidationPolicy,
    "s3-public-access-block-complete": ResourceValidationPolicy,
    "s3-encryption-configured": ResourceValidationPolicy,
    "s3-bucket-guarded": StackValidationPolicy,
    "iam-no-wildcard-actions": ResourceValidationPolicy,
    "iam-no-aws-managed-policies": ResourceValidationPolicy,
    "retain-data-protected": ResourceValidationPolicy,
    "stack-tag-on-taggable-resources": ResourceValidationPolicy,
}
BY_NAME = {policy.name: policy for policy in POLICIES}

SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
LB = "aws:lb/loadBalancer:LoadBalancer"
RUNTIME = "aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime"
SUBNET = "aws:ec2/subnet:Subnet"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
REPOSITORY = "aws:ecr/repository:Repository"
BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
VPC = "aws:ec2/vpc:Vpc"

Edit = Callable[[dict[str, Any]], object]


def _edited(resource: Declared, edit: Edit | None = None, **changes: Any) -> Declared:
    inputs = copy.deepcopy(dict(resource.inputs))
    if edit is not None:
        edit(inputs)
    return dataclasses.replace(resource, inputs=inputs, **changes)


def _add_statement(statement: dict[str, Any]) -> Edit:
    def edit(inputs: dict[str, Any]) -> None:
        document = json.loads(inputs["policy"])
        document["Statement"].append(statement)
        inputs["policy"] = json.dumps(document)

    return edit


def _container_image(image: str) -> Edit:
    def edit(inputs: dict[str, Any]) -> None:
        (container,) = json.loads(inputs["containerDefinitions"])
        container["image"] = image
        inputs["containerDefinitions"] = json.dumps([container])

    return edit


@dataclasses.dataclass(frozen=True)
class Case:
    """One violation: in ``stack``, resource ``name`` of ``type`` changed by ``edit`` (and ``changes``)."""

    id: str
    rule: str
    expect: str
    """A fragment the violation message must contain: what is wrong."""
    stack: str
    type: str
    name: str
    edit: Edit | None = None
    changes: dict[str, Any] = dataclasses.field(default_factory=dict)
    remove: bool = False
    """Remove the resource instead of changing it (stack rules about what exists); ``parent_bucket`` names the
    bucket whose URN the violation must carry."""
    parent_bucket: str | None = None
    env: dict[str, str] = dataclasses.field(default_factory=dict)


ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"
ECS_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
CUSTOMER_POLICY = "arn:aws:iam::123456789012:policy/deep-insight/agent"


def _as_attachment(policy_arn: str) -> Edit:
    """A RolePolicy's inputs made a RolePolicyAttachment's: the same role, a managed policy by ARN."""

    def edit(inputs: dict[str, Any]) -> None:
        inputs.pop("policy")
        inputs["policyArn"] = policy_arn

    return edit


DIGEST = "sha256:" + "0" * 64
OPEN_SG_RULE = {
    "type": "ingress",
    "protocol": "tcp",
    "fromPort": 443.0,
    "toPort": 443.0,
    "securityGroupId": "sg-1",
    "cidrBlocks": ["10.0.0.0/8", "0.0.0.0/0"],
}

CASES = [
    Case("ingress-rule-ipv4", "no-internet-ingress", "cidrIpv4 0.0.0.0/0 admits the whole internet on port 80",
         "dev", INGRESS, "security-agent-to-alb-80-in",
         lambda p: (p.pop("referencedSecurityGroupId"), p.update(cidrIpv4="0.0.0.0/0"))),
    Case("ingress-rule-ipv6", "no-internet-ingress", "cidrIpv6 ::/0", "prod", INGRESS,
         "security-alb-to-executor-8080-in", lambda p: p.update(cidrIpv6="::/0")),
    Case("inline-ingress", "no-internet-ingress", "inline ingress[0].cidrBlocks admits 0.0.0.0/0 on port 443",
         "dev", SG, "security-alb",
         lambda p: p.update(ingress=[{"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}])),
    Case("inline-ingress-ipv6-any-spelling", "no-internet-ingress", "ipv6CidrBlocks admits ::0/0 on all ports",
         "dev", SG, "security-endpoints", lambda p: p.update(ingress=[{"protocol": "-1", "ipv6CidrBlocks": ["::0/0"]}])),
    Case("security-group-rule", "no-internet-ingress", "ingress rule cidrBlocks admits 0.0.0.0/0 on port 443",
         "dev", INGRESS, "security-agent-to-alb-80-in", lambda p: (p.clear(), p.update(OPEN_SG_RULE)),
         {"type": "aws:ec2/securityGroupRule:SecurityGroupRule"}),
    Case("alb-internet-facing", "alb-internal", "internal is False, so the load balancer is internet-facing",
         "dev", LB, "alb-lb", lambda p: p.update(internal=False)),
    Case("alb-internal-unset", "alb-internal", "internal is None", "prod", LB, "alb-lb", lambda p: p.pop("internal")),
    Case("runtime-public", "agentcore-runtime-vpc-mode", "networkMode is 'PUBLIC', not 'VPC'", "dev", RUNTIME,
         "agent-runtime", lambda p: p.update(networkConfiguration={"networkMode": "PUBLIC"})),
    Case("runtime-no-subnets", "agentcore-runtime-vpc-mode", "networkModeConfig.subnets is empty", "prod", RUNTIME,
         "agent-runtime", lambda p: p["networkConfiguration"]["networkModeConfig"].update(subnets=[])),
    Case("runtime-no-security-groups", "agentcore-runtime-vpc-mode", "networkModeConfig.securityGroups is empty",
         "dev", RUNTIME, "agent-runtime",
         lambda p: p["networkConfiguration"]["networkModeConfig"].pop("securityGroups")),
    Case("subnet-by-name", "subnet-placed-by-az-id", "availabilityZone is 'us-east-1a'", "dev", SUBNET,
         "network-agent-use1-az1", lambda p: p.update(availabilityZone="us-east-1a")),
    Case("subnet-without-az-id", "subnet-placed-by-az-id", "availabilityZoneId is not set", "prod", SUBNET,
         "network-private-use1-az4", lambda p: p.pop("availabilityZoneId")),
    Case("endpoint-without-private-dns", "interface-endpoint-private-dns",
         "interface endpoint for com.amazonaws.us-east-1.ecr.api has privateDnsEnabled False", "dev", ENDPOINT,
         "endpoints-ecr-api", lambda p: p.update(privateDnsEnabled=False)),
    Case("endpoint-private-dns-unset", "interface-endpoint-private-dns", "privateDnsEnabled None", "prod", ENDPOINT,
         "endpoints-logs", lambda p: p.pop("privateDnsEnabled")),
    Case("endpoint-without-policy", "vpc-endpoint-policy",
         "endpoint for com.amazonaws.us-east-1.s3 has no policy, so AWS attaches full access", "dev", ENDPOINT,
         "endpoints-s3", lambda p: p.pop("policy")),
    Case("endpoint-default-policy", "vpc-endpoint-policy",
         "Statement[0] allows every principal everything, as AWS's default policy does", "prod", ENDPOINT,
         "endpoints-logs", lambda p: p.update(policy=json.dumps(AWS_DEFAULT_ENDPOINT_POLICY))),
    Case("endpoint-service-star-to-anyone", "vpc-endpoint-policy", "Open allows every principal everything", "dev",
         ENDPOINT, "endpoints-ecr-dkr", _add_statement({"Sid": "Open", "Effect": "Allow", "Principal": {"AWS": "*"},
                                                         "Action": ["ecr:*"], "Resource": "*"})),
    Case("log-group-forever", "log-group-retention", "retentionInDays is None, so events are kept forever", "dev",
         LOG_GROUP, "executor-logs", lambda p: p.pop("retentionInDays")),
    Case("log-group-zero", "log-group-retention", "retentionInDays is 0", "prod", LOG_GROUP, "executor-logs",
         lambda p: p.update(retentionInDays=0)),
    Case("ecr-no-scan", "ecr-scan-on-push", "scanOnPush is False", "dev", REPOSITORY, "agent-image-repository",
         lambda p: p.update(imageScanningConfiguration={"scanOnPush": False})),
    Case("ecr-immutable", "ecr-rebuildable-tags", "imageTagMutability is 'IMMUTABLE'; set MUTABLE", "prod", REPOSITORY,
         "executor-image-repository", lambda p: p.update(imageTagMutability="IMMUTABLE")),
    Case("ecr-immutable-with-exclusion", "ecr-rebuildable-tags", "imageTagMutability is 'IMMUTABLE_WITH_EXCLUSION'",
         "dev", REPOSITORY, "agent-image-repository",
         lambda p: p.update(imageTagMutability="IMMUTABLE_WITH_EXCLUSION")),
    Case("task-image-by-tag", "images-pinned-by-digest",
         "container 'executor' image '123456789012.dkr.ecr.us-east-1.amazonaws.com/x:latest' is not digest-pinned",
         "dev", TASK, "executor-task", _container_image("123456789012.dkr.ecr.us-east-1.amazonaws.com/x:latest")),
    Case("task-image-short-digest", "images-pinned-by-digest", "is not digest-pinned", "prod", TASK, "executor-task",
         _container_image("registry/x@sha256:abc123")),
    Case("runtime-image-by-tag", "images-pinned-by-digest",
         "containerConfiguration.containerUri 'registry/agent:v1' is not digest-pinned", "dev", RUNTIME,
         "agent-runtime",
         lambda p: p.update(agentRuntimeArtifact={"containerConfiguration": {"containerUri": "registry/agent:v1"}})),
    Case("public-access-partly-blocked", "s3-public-access-block-complete", "blockPublicPolicy, ignorePublicAcls not true",
         "dev", PUBLIC_ACCESS, "artifacts-public-access",
         lambda p: (p.update(blockPublicPolicy=False), p.pop("ignorePublicAcls"))),
    Case("encryption-no-rules", "s3-encryption-configured", "rules is empty", "dev", ENCRYPTION, "artifacts-encryption",
         lambda p: p.update(rules=[])),
    Case("encryption-no-algorithm", "s3-encryption-configured",
         "rules[0].applyServerSideEncryptionByDefault.sseAlgorithm is None", "prod", ENCRYPTION, "alb-logs-encryption",
         lambda p: p.update(rules=[{"bucketKeyEnabled": True}])),
    Case("bucket-without-public-access-block", "s3-bucket-guarded",
         "artifacts-bucket: no BucketPublicAccessBlock for this bucket", "dev", PUBLIC_ACCESS,
         "artifacts-public-access", remove=True, parent_bucket="artifacts-bucket"),
    Case("bucket-without-encryption", "s3-bucket-guarded",
         "alb-logs-bucket: no BucketServerSideEncryptionConfiguration for this bucket", "prod", ENCRYPTION,
         "alb-logs-encryption", remove=True, parent_bucket="alb-logs-bucket"),
    Case("role-policy-star", "iam-no-wildcard-actions", "policy: Everything allows '*'; name the actions one by one",
         "dev", ROLE_POLICY, "agent-policy", _add_statement({"Sid": "Everything", "Effect": "Allow", "Action": "*",
                                                             "Resource": "*"})),
    Case("role-policy-service-star", "iam-no-wildcard-actions", "Statement[3] allows 'ecs:*'", "prod", ROLE_POLICY, "executor-execution-policy",
         _add_statement({"Effect": "Allow", "Action": ["s3:GetObject", "ecs:*"], "Resource": "*"})),
    Case("role-policy-not-action", "iam-no-wildcard-actions", "AllButIam allows NotAction", "dev", ROLE_POLICY,
         "executor-execution-policy",
         _add_statement({"Sid": "AllButIam", "Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})),
    Case("role-inline-policy", "iam-no-wildcard-actions", "inlinePolicies[0] (admin): Statement[0] allows 'iam:*'",
         "dev", ROLE, "agent-role",
         lambda p: p.update(inlinePolicies=[{"name": "admin", "policy": '{"Version": "2012-10-17", "Statement": '
                                             '[{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}'}])),
    Case("bucket-policy-allow-s3-star", "iam-no-wildcard-actions", "PublicRead allows 's3:*'", "prod", BUCKET_POLICY,
         "artifacts-policy", _add_statement({"Sid": "PublicRead", "Effect": "Allow", "Principal": "*",
                                             "Action": "s3:*", "Resource": "*"})),
    Case("policy-not-json", "iam-no-wildcard-actions", "policy is not valid JSON", "dev", ROLE_POLICY, "agent-policy",
         lambda p: p.update(policy="{not json")),
    Case("role-attachment-administrator-access", "iam-no-aws-managed-policies",
         f"policyArn {ADMINISTRATOR_ACCESS!r} is an AWS-managed policy", "dev", ROLE_POLICY, "agent-policy",
         _as_attachment(ADMINISTRATOR_ACCESS), {"type": ROLE_POLICY_ATTACHMENT}),
    Case("role-managed-policy-arns", "iam-no-aws-managed-policies",
         f"managedPolicyArns[1] {ECS_EXECUTION_POLICY!r} is an AWS-managed policy", "prod", ROLE,
         "executor-execution-role", lambda p: p.update(managedPolicyArns=[CUSTOMER_POLICY, ECS_EXECUTION_POLICY])),
    Case("retained-bucket-unprotected", "retain-data-protected", "tagged deep-insight:retain-data=true but not protected",
         "prod", BUCKET, "artifacts-bucket", changes={"protect": False}),
    Case("retained-repository-force-deleted", "retain-data-protected", "forceDelete is true", "prod", REPOSITORY,
         "agent-image-repository", lambda p: p.update(forceDelete=True)),
    Case("retained-bucket-force-destroyed", "retain-data-protected", "forceDestroy is true", "prod", BUCKET,
         "alb-logs-bucket", lambda p: p.update(forceDestroy=True)),
    Case("bucket-without-retain-tag", "retain-data-protected", "tag deep-insight:retain-data is None", "dev", BUCKET,
         "artifacts-bucket", lambda p: p["tags"].pop(PROGRAM_RETAIN_DATA_TAG)),
    Case("repository-with-bad-retain-tag", "retain-data-protected", "tag deep-insight:retain-data is 'yes'", "dev",
         REPOSITORY, "executor-image-repository", lambda p: p["tags"].update({PROGRAM_RETAIN_DATA_TAG: "yes"})),
    Case("vpc-without-stack-tag", "stack-tag-on-taggable-resources", "tag deep-insight:stack is missing", "dev", VPC,
         "network-vpc", lambda p: p["tags"].pop(PROGRAM_STACK_TAG)),
    Case("egress-rule-untagged", "stack-tag-on-taggable-resources", "add it to UNTAGGABLE_TYPES", "prod", EGRESS,
         "security-agent-to-internet-443-out", lambda p: p.pop("tags")),
    Case("stack-tag-of-another-stack", "stack-tag-on-taggable-resources",
         "tag deep-insight:stack is 'prod' but the stack is 'dev'", "dev", LOG_GROUP, "executor-logs",
         lambda p: p["tags"].update({PROGRAM_STACK_TAG: "prod"}), env={"PULUMI_STACK": "acme/deep-insight/dev"}),
]  # fmt: skip


@pytest.fixture
def stacks(dev: Evaluation, prod: Evaluation) -> dict[str, Evaluation]:
    return {"dev": dev, "prod": prod}


def test_the_pack_lists_exactly_the_documented_rules():
    assert [policy.name for policy in POLICIES] == list(DOCUMENTED)
    for policy in POLICIES:
        assert type(policy) is DOCUMENTED[policy.name]
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", policy.name)
        assert policy.description.strip()
        # The pack sets MANDATORY for all; no rule may lower its own level.
        assert policy.enforcement_level in (None, EnforcementLevel.MANDATORY)


def test_the_readme_table_lists_exactly_the_rules():
    readme = (Path(rules.__file__).parent / "README.md").read_text(encoding="utf-8")
    assert re.findall(r"^\| `([a-z0-9-]+)`", readme, re.MULTILINE) == list(DOCUMENTED)


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("rule", list(DOCUMENTED))
def test_the_program_passes_every_rule(stacks, stack, rule):
    assert run_policies(stacks[stack].resources, [BY_NAME[rule]]) == []


def test_every_rule_has_a_violation_case():
    assert {case.rule for case in CASES} == set(DOCUMENTED)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_violation_is_reported_by_its_rule_alone(stacks, case, monkeypatch):
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    evaluation = stacks[case.stack]
    target = evaluation.named(case.name, case.type)
    if case.remove:
        resources = [r for r in evaluation.resources if r.urn != target.urn]
        assert case.parent_bucket is not None
        urn = evaluation.named(case.parent_bucket, BUCKET).urn
    else:
        changed = _edited(target, case.edit, **case.changes)
        resources = [changed if r.urn == target.urn else r for r in evaluation.resources]
        urn = target.urn

    violations = run_policies(resources)

    assert violations, f"{case.rule} reported nothing"
    assert {v.policy for v in violations} == {case.rule}, violations
    assert {v.urn for v in violations} == {urn}
    assert any(case.expect in v.message for v in violations), [v.message for v in violations]
    if not case.remove:
        assert all(v.message.startswith(f"{case.name}: ") for v in violations)


def test_a_deny_with_a_wildcard_is_allowed(dev):
    """The buckets' TLS-only statement denies s3:* on purpose; Deny statements are never wildcard grants."""
    policy = dev.named("artifacts-policy", BUCKET_POLICY)
    assert '"Effect": "Deny"' in policy.inputs["policy"]
    assert '"s3:*"' in policy.inputs["policy"]
    assert run_policies([policy], [BY_NAME["iam-no-wildcard-actions"]]) == []


def test_egress_to_the_internet_is_not_ingress(prod):
    egress = prod.named("security-agent-to-internet-443-out", EGRESS)
    assert egress.inputs["cidrIpv4"] == "0.0.0.0/0"
    rule = _edited(
        egress,
        lambda p: (p.clear(), p.update({**OPEN_SG_RULE, "type": "egress"})),
        type="aws:ec2/securityGroupRule:SecurityGroupRule",
    )
    assert run_policies([egress, rule], [BY_NAME["no-internet-ingress"]]) == []


def test_a_stack_tag_matching_the_stack_passes(dev, monkeypatch):
    monkeypatch.setenv("PULUMI_STACK", "dev")
    assert run_policies(dev.resources, [BY_NAME["stack-tag-on-taggable-resources"]]) == []


def test_unknown_values_at_preview_are_left_to_pulumi_policy(dev):
    """A value not known at preview raises pulumi-policy's UnknownValueError (it reports "can't run during
    preview" and the rule runs again at update) instead of a false violation."""
    task = _edited(dev.named("executor-task", TASK), lambda p: p.update(containerDefinitions=UNKNOWN_STRING_VALUE))
    with pytest.raises(UnknownValueError):
        image_rules.images_pinned_by_digest.validate(resource_args(task), lambda message, urn=None: None)


def test_the_untaggable_list_is_exactly_right(dev, prod):
    for type_token in rules.UNTAGGABLE_TYPES:
        assert not is_taggable(type_token), type_token
    declared = {r.type for e in (dev, prod) for r in e.resources if r.custom and r.type.startswith("aws:")}
    assert {t for t in declared if not is_taggable(t)} <= rules.UNTAGGABLE_TYPES


def test_the_tags_the_rules_read_are_the_programs():
    assert rules.STACK_TAG == PROGRAM_STACK_TAG
    assert rules.RETAIN_DATA_TAG == PROGRAM_RETAIN_DATA_TAG


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_retain_data_tag_matches_what_the_program_protects(stacks, stack):
    evaluation = stacks[stack]
    kept = [r for r in evaluation.resources if r.type in (BUCKET, REPOSITORY)]
    assert len(kept) == (5 if stack == "prod" else 4)
    for resource in kept:
        assert resource.inputs["tags"][PROGRAM_RETAIN_DATA_TAG] == ("true" if resource.protect else "false")
        # Build contexts are never data: their bucket expires them after a day and is never kept.
        assert resource.protect is (stack == "prod" and resource.name != "build-sources-bucket")


# --- iam-no-aws-managed-policies ---

ATTACHING_TYPES = sorted(iam_rules.POLICY_ARN_INPUTS)


def _attaching(resource: Declared, type_token: str, arn: str) -> Declared:
    """``resource`` made one of ``type_token`` that attaches the managed policy ``arn``."""
    key, many = iam_rules.POLICY_ARN_INPUTS[type_token]
    return dataclasses.replace(resource, type=type_token, inputs={key: [arn] if many else arn})


def _managed_policy_violations(resource: Declared) -> list[str]:
    return [v.message for v in run_policies([resource], [BY_NAME["iam-no-aws-managed-policies"]])]


def test_the_attaching_types_and_inputs_are_pulumi_aws_s():
    """Every type token and engine-side input name the rule reads is one pulumi-aws 7 declares."""
    for type_token, (key, _many) in iam_rules.POLICY_ARN_INPUTS.items():
        _package, module_path, class_name = type_token.split(":")
        resource_class = getattr(importlib.import_module(f"pulumi_aws.{module_path.split('/')[0]}"), class_name)
        source = inspect.getsource(resource_class)
        assert f"'{type_token}'" in source, type_token
        assert f'@pulumi.getter(name="{key}")' in source, (type_token, key)


@pytest.mark.parametrize("type_token", ATTACHING_TYPES)
@pytest.mark.parametrize(
    "arn",
    [
        ADMINISTRATOR_ACCESS,
        ECS_EXECUTION_POLICY,
        "arn:aws-us-gov:iam::aws:policy/ReadOnlyAccess",
        "arn:aws-cn:iam::aws:policy/job-function/ViewOnlyAccess",
    ],
)
def test_every_way_to_attach_an_aws_managed_policy_is_refused(dev, type_token, arn):
    attachment = _attaching(dev.named("agent-policy", ROLE_POLICY), type_token, arn)
    (message,) = _managed_policy_violations(attachment)
    assert f"{arn!r} is an AWS-managed policy" in message


@pytest.mark.parametrize("type_token", ATTACHING_TYPES)
@pytest.mark.parametrize(
    "arn",
    [
        CUSTOMER_POLICY,
        "arn:aws-us-gov:iam::123456789012:policy/ReadOnlyAccess",
        # An account's own policy named after an AWS one is still the account's.
        "arn:aws:iam::123456789012:policy/aws/AdministratorAccess",
    ],
)
def test_a_customer_managed_policy_may_be_attached(dev, type_token, arn):
    assert _managed_policy_violations(_attaching(dev.named("agent-policy", ROLE_POLICY), type_token, arn)) == []


def test_a_role_with_customer_managed_policies_passes_every_rule(dev):
    role = _edited(dev.named("agent-role", ROLE), lambda p: p.update(managedPolicyArns=[CUSTOMER_POLICY]))
    assert run_policies([role]) == []


def test_an_allowlisted_aws_managed_policy_may_be_attached(dev, monkeypatch):
    monkeypatch.setattr(
        iam_rules, "AWS_MANAGED_POLICY_ALLOWLIST", frozenset({"service-role/AmazonECSTaskExecutionRolePolicy"})
    )
    role = _edited(
        dev.named("executor-execution-role", ROLE),
        lambda p: p.update(managedPolicyArns=[ECS_EXECUTION_POLICY, ADMINISTRATOR_ACCESS]),
    )
    (message,) = _managed_policy_violations(role)
    assert message.startswith(f"executor-execution-role: managedPolicyArns[1] {ADMINISTRATOR_ACCESS!r}")


def test_the_program_attaches_no_aws_managed_policy(dev, prod):
    """The allowlist is empty because the program attaches no AWS-managed policy, by any of the ways."""
    assert not iam_rules.AWS_MANAGED_POLICY_ALLOWLIST
    for evaluation in (dev, prod):
        attaching = [r for r in evaluation.resources if r.type in iam_rules.POLICY_ARN_INPUTS]
        assert attaching, "the roles are among the resources the rule reads"
        for resource in attaching:
            key, many = iam_rules.POLICY_ARN_INPUTS[resource.type]
            value = resource.inputs.get(key)
            arns = list(value or []) if many else [value]
            assert not any(iam_rules.aws_managed_policy(arn) for arn in arns), (resource.name, arns)


@pytest.mark.parametrize(
    ("type_token", "value"),
    [
        (ROLE_POLICY_ATTACHMENT, UNKNOWN_STRING_VALUE),
        (ROLE, UNKNOWN_STRING_VALUE),  # the whole list unknown
        (ROLE, [CUSTOMER_POLICY, UNKNOWN_STRING_VALUE]),  # one ARN unknown (a policy created in this update)
    ],
)
def test_a_policy_arn_unknown_at_preview_is_left_to_pulumi_policy(dev, type_token, value):
    key, _many = iam_rules.POLICY_ARN_INPUTS[type_token]
    resource = dataclasses.replace(dev.named("agent-role", ROLE), type=type_token, inputs={key: value})
    with pytest.raises(UnknownValueError):
        iam_rules.iam_no_aws_managed_policies.validate(resource_args(resource), lambda message, urn=None: None)
