"""``deep-insight reap``: remove a stack's orphaned executor sessions, with the agent runtime's own reaper."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ops.console import FAILED, console, reports_errors
from ops.stack import aws_client, read_outputs, read_settings

if TYPE_CHECKING:
    from deep_insight_agent.config import EcsSettings
    from deep_insight_agent.reaper import Reaped

    from components.settings import Settings


def ecs_settings(stack: str, outputs: dict[str, Any], settings: Settings) -> EcsSettings:
    """What the agent runtime is configured with, rebuilt from the stack's outputs and settings."""
    # The agent's package and the components load when a command runs, not for --help.
    from deep_insight_agent.config import EcsSettings  # noqa: PLC0415
    from deep_insight_contract.target_group import SessionTargetGroupTemplate, target_group_prefix  # noqa: PLC0415

    from components.security import Group  # noqa: PLC0415

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
        target_group=SessionTargetGroupTemplate(name_prefix=target_group_prefix(stack)),
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
    everything: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Everything of the stack, any age (live sessions too), then wait until its tasks have stopped;"
            " before `pulumi destroy`, whose executor security group and subnets their network interfaces hold.",
        ),
    ] = False,
    outputs_file: Annotated[
        Path | None, typer.Option("--outputs", help="Stack outputs JSON (default: pulumi stack output --json).")
    ] = None,
) -> None:
    """Remove orphaned executor tasks, target groups and listener rules of a stack.

    Only resources tagged with this stack and a creation time older than --older-than are touched; rules go
    first, then target groups, then tasks. The agent runtime runs the same reaper at every session start.
    With --all, every session resource of the stack goes, whatever its age, and the command waits (at most
    10 minutes) until the stack's tasks have stopped.

    Example: deep-insight reap --stack dev --older-than 120 (or --all before destroy)
    """
    if everything and older_than is not None:
        raise typer.BadParameter("give either --all or --older-than", param_hint="--all")
    from deep_insight_agent.reaper import (  # noqa: PLC0415 - boto3 and the agent's reaper load when it runs
        ORPHAN_MARGIN,
        STOP_DEADLINE_SECONDS,
        orphan_age,
        reap,
        reap_stack,
    )
    from rich.markup import escape  # noqa: PLC0415

    settings = read_settings(stack)
    outputs = read_outputs(stack, outputs_file)
    ecs_config = ecs_settings(stack, outputs, settings)
    region = outputs["region"]
    ecs, elbv2 = aws_client("ecs", region), aws_client("elbv2", region)
    if everything:
        with console.status(f"Removing every executor session of stack {stack} and waiting for its tasks to stop…"):
            reaped = reap_stack(ecs_config, ecs=ecs, elbv2=elbv2)
        _print_reaped(reaped)
        for arn in reaped.not_stopped:
            minutes = STOP_DEADLINE_SECONDS / 60
            console.print(f"[red]✗[/red] task {escape(arn)} had not stopped after {minutes:g} minutes", soft_wrap=True)
        _summarize(reaped, f"No executor sessions of stack {stack}.")
        return
    age = orphan_age(ecs_config) if older_than is None else timedelta(minutes=older_than)
    if older_than is not None and age < orphan_age(ecs_config):
        margin, default = (int(d.total_seconds() // 60) for d in (ORPHAN_MARGIN, orphan_age(ecs_config)))
        console.print(
            f"[yellow]warning:[/yellow] --older-than {older_than} is below the session timeout plus {margin} minutes"
            f" ({default}): live sessions may be removed",
            soft_wrap=True,
        )
    with console.status(f"Looking for orphans of stack {stack} older than {age}…"):
        reaped = reap(ecs_config, ecs=ecs, elbv2=elbv2, older_than=age)
    _print_reaped(reaped)
    _summarize(reaped, f"No orphans of stack {stack} older than {age}.")


def _print_reaped(reaped: Reaped) -> None:
    from rich.markup import escape  # noqa: PLC0415 - rich loads on first use

    for kind, arns in (("listener rule", reaped.rules), ("target group", reaped.target_groups), ("task", reaped.tasks)):
        for arn in arns:
            console.print(f"[green]✓[/green] removed {kind} {arn}", soft_wrap=True)
    for failure in reaped.failures:
        console.print(
            f"[red]✗[/red] could not remove {failure.kind} {escape(failure.arn)}:"
            f" {escape(failure.code)}: {escape(failure.message)}",
            soft_wrap=True,
        )


def _summarize(reaped: Reaped, nothing: str) -> None:
    removed = f"{len(reaped.rules)} rules, {len(reaped.target_groups)} target groups, {len(reaped.tasks)} tasks"
    problems = [f"{len(reaped.failures)} could not be removed"] if reaped.failures else []
    problems += [f"{len(reaped.not_stopped)} tasks had not stopped"] if reaped.not_stopped else []
    if problems:
        console.print(f"Removed {removed}; {', '.join(problems)}.")
        raise typer.Exit(FAILED)
    if reaped.rules or reaped.target_groups or reaped.tasks:
        console.print(f"Removed {removed}.")
    else:
        console.print(nothing)
