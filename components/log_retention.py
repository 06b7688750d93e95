"""Retention for a log group someone else owns: AgentCore's runtime log groups.

AgentCore creates ``/aws/bedrock-agentcore/runtimes/<runtime id>-<endpoint>`` itself. Declaring that
name as an ``aws.cloudwatch.LogGroup`` races it (ResourceAlreadyExistsException on create) and makes
Pulumi delete AgentCore's group on destroy. So the program does not own the group: `RuntimeLogRetention`
(a Pulumi dynamic resource) makes sure it exists and keeps the configured retention, idempotently, on
every create and update, and leaves it alone on delete (it stays AgentCore's, and expires by retention).

The AWS calls are plain functions over a boto3 ``logs`` client (`ensure_retention`), tested against moto;
the provider only builds the client for an explicit region (and the stack's ``aws:profile``, if any).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic

ALREADY_EXISTS = "ResourceAlreadyExistsException"


def runtime_log_group_name(runtime_id: str, endpoint: str) -> str:
    """Where AgentCore writes a runtime endpoint's logs."""
    return f"/aws/bedrock-agentcore/runtimes/{runtime_id}-{endpoint}"


def ensure_retention(logs: Any, group_name: str, days: int) -> bool:
    """Create ``group_name`` if it is missing, then set its retention; True if this call created it.

    Safe to repeat and safe against the owner creating the group at the same moment: an
    ResourceAlreadyExistsException from CreateLogGroup means someone else won, which is fine.
    """
    created = True
    try:
        logs.create_log_group(logGroupName=group_name)
    except logs.exceptions.ResourceAlreadyExistsException:
        created = False
    logs.put_retention_policy(logGroupName=group_name, retentionInDays=days)
    return created


def logs_client(region: str, profile: str | None = None) -> Any:
    import boto3  # noqa: PLC0415 - only the provider process (at deploy time) needs boto3

    return boto3.Session(profile_name=profile or None, region_name=region).client("logs")


class RetentionProvider(pulumi.dynamic.ResourceProvider):
    """create/update: ensure the group and its retention; delete: nothing (the group is AgentCore's)."""

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        # Numbers reach a dynamic provider as floats (protobuf Struct); the Logs API takes an integer.
        ensure_retention(
            logs_client(props["region"], props.get("profile")), props["log_group_name"], int(props["days"])
        )
        return pulumi.dynamic.CreateResult(id_=props["log_group_name"], outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        changed = [k for k in ("log_group_name", "region", "days", "profile") if olds.get(k) != news.get(k)]
        # Another group (a replaced runtime) is another resource; deleting the old one does nothing.
        replaces = [k for k in changed if k in ("log_group_name", "region")]
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        ensure_retention(logs_client(news["region"], news.get("profile")), news["log_group_name"], int(news["days"]))
        return pulumi.dynamic.UpdateResult(outs=news)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # never delete: AgentCore owns the group and may still write to it


@dataclass(frozen=True)
class RetentionArgs:
    log_group_name: pulumi.Input[str]
    days: int
    region: str
    profile: str | None = None
    """The stack's ``aws:profile``: the provider process uses the deployer's credential chain otherwise."""


class RuntimeLogRetention(pulumi.dynamic.Resource, module="logs", name="RuntimeLogRetention"):
    """Type ``pulumi-python:dynamic/logs:RuntimeLogRetention``."""

    log_group_name: pulumi.Output[str]
    days: pulumi.Output[int]

    def __init__(self, name: str, args: RetentionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props: dict[str, Any] = {
            "log_group_name": args.log_group_name,
            "days": args.days,
            "region": args.region,
            "profile": args.profile,
        }
        super().__init__(RetentionProvider(), name, props, opts)
