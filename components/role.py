"""An IAM role with one inline policy: the shape every role of this stack has.

Inline (not managed) policies: each role's permissions are its own, deleted with it, and the policy
documents come from `components.iam`.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from components.iam import Document
from components.settings import ResourceTags


def role_with_policy(
    name: str,
    *,
    description: str,
    trust: Document,
    policy: pulumi.Input[Document],
    tags: ResourceTags,
    tag_name: str,
    parent: pulumi.Resource,
    max_session_seconds: int | None = None,
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """Declare ``<name>-role`` and its inline ``<name>-policy``; returns both. ``max_session_seconds``: how long
    a session of the role may last (IAM's default, one hour, when None)."""
    role = aws.iam.Role(
        f"{name}-role",
        description=description,
        assume_role_policy=json.dumps(trust),
        max_session_duration=max_session_seconds,
        tags=tags.named(tag_name),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    inline = aws.iam.RolePolicy(
        f"{name}-policy",
        role=role.id,
        policy=pulumi.Output.from_input(policy).apply(json.dumps),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return role, inline
