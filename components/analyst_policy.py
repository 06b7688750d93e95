"""The analyst policy: a customer-managed IAM policy that lets a person use the deployed stack.

A person runs jobs with ``deep-insight invoke`` or ``deep-insight console --stack``: they invoke the runtime's
``live`` endpoint, put a session's inputs (and the console's record of the job) under ``sessions/``, write plan
decisions, and read a session's results. The stack exports this policy's ARN (``analystPolicyArn``) so that an
administrator attaches it to a group, a role or an IAM Identity Center permission set instead of guessing. Its
statements come from what is used, each granted by its owner (the bucket, the runtime), as the roles' are.

Customer-managed, not inline: it is meant for principals this stack does not create. It grants nothing on its
own until attached, and it is deleted with the stack (IAM refuses while it is still attached: detach it first).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.iam import Statement, analyst_policy
from components.settings import ResourceTags


@dataclass(frozen=True)
class AnalystPolicyArgs:
    statements: Sequence[pulumi.Input[Sequence[Statement]]]
    """What a person may do, each granter's statements in order (``bucket.analyst_session_statements()``...)."""
    tags: ResourceTags


class AnalystPolicy(pulumi.ComponentResource):
    policy_arn: pulumi.Output[str]
    document: pulumi.Output[dict]

    def __init__(self, name: str, args: AnalystPolicyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("deep-insight:analyst:AnalystPolicy", name, None, opts)
        self.document = pulumi.Output.all(*args.statements).apply(
            lambda lists: analyst_policy([statement for granted in lists for statement in granted])
        )
        policy = aws.iam.Policy(
            f"{name}-policy",
            # The stack's prefix, so that an administrator picking a policy to attach finds it by name.
            name_prefix=f"{args.tags.prefix}-analyst-",
            description=f"Deep Insight stack {args.tags.stack}: run jobs (invoke, console) and read their results",
            policy=self.document.apply(json.dumps),
            tags=args.tags.named("analyst-policy"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.policy_arn = policy.arn
        self.register_outputs({"analystPolicyArn": self.policy_arn})
