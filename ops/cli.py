"""``deep-insight``: the day-2 command line of SPEC §8 (plan, zones, verify, invoke, reap).

Every command module holds only its signature at import time and loads Pulumi, boto3 and the components when
it runs, so ``--help`` answers at once. Every error, usage errors included, is one ``error: …`` line on stderr
with the exit codes of README "Operations": 0 fine, 1 a failed check or job, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer

# Typer 0.29 carries its own copy of click, whose exceptions it does not re-export (tests/ops/test_cli.py
# pins the behaviour, so a Typer upgrade that moves them fails there, not in a user's terminal).
from typer._click.exceptions import ClickException, NoArgsIsHelpError
from typer.core import TyperGroup

from ops import invoke, plan, reap, run, verify, webconsole, zones
from ops.console import BAD_INPUT, INTERRUPTED, print_error

DISTRIBUTION = "deep-insight"  # the [project] name in pyproject.toml
HELP_WIDTH = 100  # help wraps to the terminal, and to this on a wider one (lines stay readable)


def usage_error_line(error: ClickException) -> str:
    """A click/typer usage error as one line, pointing at the command's help."""
    message = " ".join(error.format_message().split()).rstrip(".")
    context = getattr(error, "ctx", None)
    return f"{message} (see `{context.command_path} --help`)" if context is not None else message


class OneErrorStyle(TyperGroup):
    """Typer's group, with click's own errors printed as ``error: <one line>`` instead of a framed box."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            # Not standalone: click raises its errors to us instead of printing them; typer returns the exit
            # code of a typer.Exit (help, a failed check) and turns Ctrl-C into exit 130.
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError as error:
            typer.echo(error.ctx.get_help(), err=True)
            code = BAD_INPUT
        except ClickException as error:
            print_error(usage_error_line(error))
            code = BAD_INPUT
        except typer.Abort:
            print_error("interrupted")
            code = INTERRUPTED
        code = code if isinstance(code, int) else 0
        if not standalone_mode:
            return code
        sys.exit(code)


app = typer.Typer(
    name="deep-insight",
    cls=OneErrorStyle,
    help="Plan, check, use and clean up Deep Insight stacks (one Pulumi stack per environment).",
    no_args_is_help=True,
    add_completion=False,
    # click's plain help: paragraphs wrap to the terminal, flags show no type (rich's keeps the docstrings'
    # line breaks and marks flags <bool>).
    rich_markup_mode=None,
    context_settings={"max_content_width": HELP_WIDTH},
    # A user mistake is one line (ops.console.reports_errors); anything else is a bug and keeps its traceback.
    pretty_exceptions_enable=False,
)


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import version  # noqa: PLC0415 - only for --version

        typer.echo(f"{DISTRIBUTION} {version(DISTRIBUTION)}")
        raise typer.Exit


@app.callback()
def _main(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    """The group's own options (--version); its help is the Typer's."""


app.command("plan")(plan.command)
app.command("zones")(zones.command)
app.command("verify")(verify.command)
app.command("invoke")(invoke.command)
app.command("run")(run.command)
app.command("console")(webconsole.command)
app.command("reap")(reap.command)


def main() -> None:
    try:
        app()
    finally:
        # The process ends here. Freezing what it holds spares the interpreter's last full garbage
        # collection a pass over pulumi_aws's few hundred thousand objects (about 0.5 s of `plan`).
        gc.freeze()


if __name__ == "__main__":
    main()
