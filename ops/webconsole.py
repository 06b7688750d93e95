"""``deep-insight console``: the web console (``ops.web``) on 127.0.0.1.

This module is the command's signature only: Starlette, the workflow and the models load when it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from deep_insight_contract.agents import DEFAULT_MODEL_ID

from ops.console import reports_errors
from ops.job_options import Model, ModelUrl, NoSandbox, OutputsFile, Region, Scripted


@reports_errors
def command(
    *,
    local: Annotated[
        bool, typer.Option("--local", help="Run jobs on this machine (as `deep-insight run` does).")
    ] = False,
    stack: Annotated[
        str | None, typer.Option("--stack", "-s", help="Run jobs in this deployed stack (as `invoke` does).")
    ] = None,
    outputs_file: OutputsFile = None,
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="Port (0: any free one).")] = 8765,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; anything but loopback needs --token.")
    ] = "127.0.0.1",
    token: Annotated[
        str | None,
        typer.Option("--token", help="The token the page needs (default: a random one, in the printed address)."),
    ] = None,
    browser: Annotated[bool, typer.Option("--browser/--no-browser", help="Open the page in a browser.")] = True,
    runs: Annotated[
        Path, typer.Option("--runs", metavar="DIR", help="Folder of the local jobs (as `run` makes them).")
    ] = Path("deep-insight-runs"),
    model: Model = DEFAULT_MODEL_ID,
    model_url: ModelUrl = None,
    region: Region = None,
    no_sandbox: NoSandbox = False,
    scripted: Scripted = None,
) -> None:
    """Serve the web console: drop data files, ask, watch the agents, review the plan, read the report.

    Jobs run on this machine (--local), as `deep-insight run` runs them, or in a deployed stack (--stack,
    with your AWS credentials), as `deep-insight invoke` does; each keeps a folder in --runs, and the page
    lists them again after a restart (a stack's also from its artifacts bucket).

    Example: deep-insight console --local (or --stack dev)
    """
    from ops.web.serve import serve  # noqa: PLC0415 - Starlette and the workflow load when it runs

    if local:  # the local jobs' executors; a stack's run in AWS
        from ops.local.sandbox_choice import decide  # noqa: PLC0415

        decide(no_sandbox)
    serve(
        local=local, stack=stack, outputs_file=outputs_file, port=port, host=host, token=token, browser=browser,
        runs=runs, model=model, model_url=model_url, region=region, scripted=scripted,
    )  # fmt: skip
