"""IAM rules: policy documents allow named actions only, and no AWS-managed policy is attached."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs

if __package__:  # imported as part of the policy package (the tests, deep-insight plan)
    from . import rule_kit
else:  # run by the Pulumi CLI, with the pack's directory as sys.path[0]
    import rule_kit  # pyright: ignore[reportMissingImports]

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
    rule_kit.ROLE: ("managedPolicyArns", True),
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
# arn:<partition>:iam::aws:policy/<path><name>: the account field "aws" marks a policy AWS owns.
AWS_MANAGED_POLICY_ARN = re.compile(r"^arn:[^:]+:iam::aws:policy/(?P<policy>.+)$")


def _documents(args: ResourceValidationArgs) -> Iterator[tuple[str, Any]]:
    """(where, document) for every IAM policy document in the resource's inputs."""
    if args.resource_type == rule_kit.ROLE:
        yield "assumeRolePolicy", args.props.get("assumeRolePolicy")
        for index, inline in enumerate(rule_kit.as_list(args.props.get("inlinePolicies"))):
            yield (
                f"inlinePolicies[{index}] ({rule_kit.as_map(inline).get('name')})",
                rule_kit.as_map(inline).get("policy"),
            )
    else:
        yield "policy", args.props.get("policy")


def wildcard_grants(document: Any) -> Iterator[str]:
    """Allow statements that grant ``*``, a whole service (``s3:*``) or everything but a list (NotAction).

    A Deny may use a wildcard: the buckets' TLS-only statement denies ``s3:*`` so that it covers every S3
    action, current and future.
    """
    statements = rule_kit.as_map(document).get("Statement")
    for index, statement in enumerate(map(rule_kit.as_map, rule_kit.as_list(statements))):
        if statement.get("Effect") != "Allow":
            continue
        label = statement.get("Sid") or f"Statement[{index}]"
        if "NotAction" in statement:
            yield f"{label} allows NotAction, i.e. every action but those listed"
        for action in rule_kit.as_list(statement.get("Action")):
            if isinstance(action, str) and (action == "*" or action.endswith(":*")):
                yield f"{label} allows {action!r}"


@rule_kit.resource_rule(
    "iam-no-wildcard-actions",
    "IAM and bucket policies allow named actions only: no '*', no 'service:*', no Allow with NotAction.",
    (rule_kit.ROLE, *POLICY_DOCUMENTS),
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


@rule_kit.resource_rule(
    "iam-no-aws-managed-policies",
    "Roles, users and groups get no AWS-managed policy (arn:<partition>:iam::aws:policy/...): those are broad "
    "and AWS changes them; attach customer-managed policies, whose documents the pack checks.",
    tuple(POLICY_ARN_INPUTS),
)
def iam_no_aws_managed_policies(args: ResourceValidationArgs) -> Iterator[str]:
    key, many = POLICY_ARN_INPUTS[args.resource_type]
    value = args.props.get(key)
    arns = enumerate(rule_kit.as_list(value)) if many else [(None, value)]
    for index, arn in arns:
        policy = aws_managed_policy(arn)
        if policy is not None and policy not in AWS_MANAGED_POLICY_ALLOWLIST:
            where = key if index is None else f"{key}[{index}]"
            yield (
                f"{where} {arn!r} is an AWS-managed policy; attach a customer-managed policy that names the "
                "actions (or, if it must be this one, add it to AWS_MANAGED_POLICY_ALLOWLIST in policy/iam_rules.py)"
            )
