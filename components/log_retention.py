"""Retention for a log group someone else owns: AgentCore's runtime log groups.

AgentCore creates ``/aws/bedrock-agentcore/runtimes/<runtime id>-<endpoint>`` itself. Declaring that
name as an ``aws.cloudwatch.LogGroup`` races it (ResourceAlreadyExistsException on create) and makes
Pulumi delete AgentCore's group on destroy. So the program does not own the group: `RuntimeLogRetention`
(a Pulumi dynamic resource) makes sure it exists and keeps the configured retention, idempotently, on
every create and update, and leaves it alone on delete (it stays AgentCore's, and expires by retention).

The AWS calls are plain functions over a boto3 ``logs`` client (`ensure_retention`), tested against moto;
the provider builds the client for an explicit region, with the stack's AWS credentials as configured when
it runs, and only in the stack's account (`components.stack_aws`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic

from components.stack_aws import StackAwsProvider

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


class RetentionProvider(StackAwsProvider):
    """create/update: ensure the group and its retention; delete: nothing (the group is AgentCore's)."""

    acting = "log retention"

    def _ensure(self, props: dict[str, Any]) -> None:
        logs = self.stack_session(props["region"], props.get("account_id")).client("logs")
        # Numbers reach a dynamic provider as floats (protobuf Struct); the Logs API takes an integer.
        ensure_retention(logs, props["log_group_name"], int(props["days"]))

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        self._ensure(props)
        return pulumi.dynamic.CreateResult(id_=props["log_group_name"], outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        changed = [k for k in ("log_group_name", "region", "days", "account_id") if olds.get(k) != news.get(k)]
        # Another group (a replaced runtime) is another resource; deleting the old one does nothing.
        replaces = [k for k in changed if k in ("log_group_name", "region")]
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        self._ensure(news)
        return pulumi.dynamic.UpdateResult(outs=news)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # never delete: AgentCore owns the group and may still write to it


@dataclass(frozen=True)
class RetentionArgs:
    log_group_name: pulumi.Input[str]
    days: int
    region: str
    account_id: str
    """The stack's account: the provider stops unless the credentials act in it."""


class RuntimeLogRetention(pulumi.dynamic.Resource, module="logs", name="RuntimeLogRetention"):
    """Type ``pulumi-python:dynamic/logs:RuntimeLogRetention``."""

    log_group_name: pulumi.Output[str]
    days: pulumi.Output[int]

    def __init__(self, name: str, args: RetentionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props: dict[str, Any] = {
            "log_group_name": args.log_group_name,
            "days": args.days,
            "region": args.region,
            "account_id": args.account_id,
        }
        super().__init__(RetentionProvider(), name, props, opts)
