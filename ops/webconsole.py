"""``deep-insight console``: the web console (``ops.web``) on 127.0.0.1.

This module is the command's signature only: Starlette, the workflow and the models load when it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from deep_insight_contract.agents import DEFAULT_MODEL_ID

from ops.console import reports_errors


@reports_errors
def command(
    *,
    local: Annotated[
        bool, typer.Option("--local", help="Run jobs on this machine (as `deep-insight run` does).")
    ] = False,
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
    model: Annotated[
        str, typer.Option("--model", "-m", help="Bedrock model id, or openai:<model> with --model-url.")
    ] = DEFAULT_MODEL_ID,
    model_url: Annotated[
        str | None, typer.Option("--model-url", metavar="URL", help="An OpenAI-compatible server.")
    ] = None,
    region: Annotated[str | None, typer.Option("--region", help="Bedrock's region.")] = None,
    scripted: Annotated[Path | None, typer.Option("--scripted", hidden=True)] = None,
) -> None:
    """Serve the web console: drop data files, ask, watch the agents, review the plan, read the report.

    Jobs run on this machine (--local), each in a folder of --runs, as `deep-insight run` runs them; the
    page lists them again after a restart.

    Example: deep-insight console --local
    """
    from ops.web.serve import serve  # noqa: PLC0415 - Starlette and the workflow load when it runs

    serve(local=local, port=port, host=host, token=token, browser=browser, runs=runs, model=model,
          model_url=model_url, region=region, scripted=scripted)  # fmt: skip
