"""``deep-insight``: the day-2 command line of SPEC §8 (plan, zones, verify, invoke, reap)."""

from __future__ import annotations

import typer

from ops import invoke, plan, reap, verify, zones

app = typer.Typer(
    name="deep-insight",
    help="Plan, check, use and clean up Deep Insight stacks (one Pulumi stack per environment).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    # A user mistake is one line (ops.console.reports_errors); anything else is a bug and keeps its traceback.
    pretty_exceptions_enable=False,
)
app.command("plan")(plan.command)
app.command("zones")(zones.command)
app.command("verify")(verify.command)
app.command("invoke")(invoke.command)
app.command("reap")(reap.command)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
