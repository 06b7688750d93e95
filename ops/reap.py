"""``deep-insight reap``: remove a stack's orphaned executor sessions, with the agent runtime's own reaper."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from deep_insight_agent.config import EcsSettings, TargetGroupTemplate
from deep_insight_agent.executor_session import ORPHAN_MARGIN, orphan_age, reap
from rich.markup import escape

from components.runtime_contract import SessionTargetGroupTemplate, target_group_prefix
from components.security import Group
from components.settings import Settings
from ops.console import FAILED, console, reports_errors
from ops.stack import aws_client, read_outputs, read_settings


def ecs_settings(stack: str, outputs: dict[str, Any], settings: Settings) -> EcsSettings:
    """What the agent runtime is configured with, rebuilt from the stack's outputs and settings."""
    template = SessionTargetGroupTemplate(name_prefix=target_group_prefix(stack))
    return EcsSettings(
        region=outputs["region"],
        stack=stack,
        cluster_arn=outputs["clusterArn"],
        task_definition_arn=outputs["executorTaskDefinitionArn"],
        container=outputs["executorContainerName"],
        subnet_ids=tuple(outputs["privateSubnetIds"]),
        security_group_id=outputs["securityGroupIds"][Group.EXECUTOR.value],
        vpc_id=outputs["vpcId"],
        listener_arn=outputs["listenerArn"],
        alb_dns=outputs["albDnsName"],
        max_sessions=settings.executor.max_sessions,
        target_group=TargetGroupTemplate(**asdict(template)),
        executor_session_timeout_seconds=settings.executor.session_timeout_seconds,
        artifact_bucket=outputs["artifactBucket"],
    )


@reports_errors
def command(
    stack: Annotated[str, typer.Option("--stack", "-s", help="Stack name (tag deep-insight:stack).")],
    older_than: Annotated[
        int | None,
        typer.Option(
            "--older-than",
            min=0,
            help="Minutes; default: the executor session timeout + 10, past which no live session has resources.",
        ),
    ] = None,
    outputs_file: Annotated[
        Path | None, typer.Option("--outputs", help="Stack outputs JSON (default: pulumi stack output --json).")
    ] = None,
) -> None:
    """Remove orphaned executor tasks, target groups and listener rules of a stack.

    Only resources tagged with this stack and a creation time older than --older-than are touched; rules go
    first, then target groups, then tasks. The agent runtime runs the same reaper at every session start.

    Example: deep-insight reap --stack dev --older-than 120
    """
    settings = read_settings(stack)
    outputs = read_outputs(stack, outputs_file)
    ecs_config = ecs_settings(stack, outputs, settings)
    age = orphan_age(ecs_config) if older_than is None else timedelta(minutes=older_than)
    if older_than is not None and age < orphan_age(ecs_config):
        margin, default = (int(d.total_seconds() // 60) for d in (ORPHAN_MARGIN, orphan_age(ecs_config)))
        console.print(
            f"[yellow]warning:[/yellow] --older-than {older_than} is below the session timeout plus {margin} minutes"
            f" ({default}): live sessions may be removed",
            soft_wrap=True,
        )
    region = outputs["region"]
    with console.status(f"Looking for orphans of stack {stack} older than {age}…"):
        reaped = reap(ecs_config, ecs=aws_client("ecs", region), elbv2=aws_client("elbv2", region), older_than=age)
    for kind, arns in (("listener rule", reaped.rules), ("target group", reaped.target_groups), ("task", reaped.tasks)):
        for arn in arns:
            console.print(f"[green]✓[/green] removed {kind} {arn}", soft_wrap=True)
    for failure in reaped.failures:
        console.print(
            f"[red]✗[/red] could not remove {failure.kind} {escape(failure.arn)}:"
            f" {escape(failure.code)}: {escape(failure.message)}",
            soft_wrap=True,
        )
    removed = f"{len(reaped.rules)} rules, {len(reaped.target_groups)} target groups, {len(reaped.tasks)} tasks"
    if reaped.failures:
        console.print(f"Removed {removed}; {len(reaped.failures)} could not be removed.")
        raise typer.Exit(FAILED)
    if reaped.rules or reaped.target_groups or reaped.tasks:
        console.print(f"Removed {removed}.")
    else:
        console.print(f"No orphans of stack {stack} older than {age}.")
