"""Running the ``verify`` checks: one ✓/✗ line per check; a failed AWS call is that check's ✗, not the run's end.

Only missing credentials or an unreachable endpoint stop the whole run (every check would fail the same way).
"""

from __future__ import annotations

from pathlib import Path

import typer
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError
from rich.text import Text

from ops.console import FAILED, OpsError, aws_error_line, console
from ops.stack import aws_client, read_outputs, read_settings
from ops.verify.context import Check, Context, Result
from ops.verify.registry import CHECKS

__all__ = ["CHECKS", "Check", "run", "run_check"]


def run_check(item: Check, ctx: Context) -> Result:
    try:
        return item.run(ctx)
    except (NoCredentialsError, NoRegionError, EndpointConnectionError):
        raise  # every check would fail the same way: one line from reports_errors instead
    except (ClientError, BotoCoreError) as error:
        return False, aws_error_line(error)
    except Exception as error:  # a malformed AWS answer must not hide the remaining checks
        return False, f"could not check: {type(error).__name__}: {error}"


def mark(ok: bool) -> Text:
    return Text("✓", style="green") if ok else Text("✗", style="red")


def run(stack: str, outputs: Path | None) -> None:
    """Every check against the stack's outputs and settings; exit 1 if any fails."""
    settings = read_settings(stack)
    values = read_outputs(stack, outputs)
    if values["region"] != settings.region:
        raise OpsError(
            f"the outputs are in {values['region']} but Pulumi.{stack}.yaml deploys to {settings.region}; "
            f"are they the outputs of stack {stack}?"
        )
    ctx = Context(stack, values, settings, aws_client)
    account = ctx.client("sts").get_caller_identity()["Account"]  # fails fast, in one line, without credentials
    console.print(Text(f"Verifying stack {stack} in account {account}, {settings.region}"), soft_wrap=True)
    failed = 0
    for item in CHECKS:
        ok, reason = run_check(item, ctx)
        failed += not ok
        console.print(Text.assemble(mark(ok), f" {item.label}: {reason}"), soft_wrap=True)
    summary = f"{len(CHECKS) - failed} of {len(CHECKS)} checks passed"
    console.print(Text(summary, style="red" if failed else "green"), soft_wrap=True)
    if failed:
        raise typer.Exit(FAILED)
