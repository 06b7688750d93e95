"""Start the console: check where it may listen, make its token, print its address, serve until Ctrl-C."""

from __future__ import annotations

import secrets
import socket
import webbrowser
from pathlib import Path
from typing import Any

import uvicorn
from deep_insight_contract.loopback import is_loopback

from ops.console import OpsError
from ops.invoke.job import say
from ops.local import models
from ops.web.app import create_app
from ops.web.jobs import Jobs
from ops.web.runners import StackRunner


def _no_local_models() -> models.ModelFor:
    def model_for(agent: str) -> Any:
        raise AssertionError("a stack's jobs use the runtime's models")

    return model_for


def stack_runner(stack: str, outputs_file: Path | None) -> StackRunner:
    """The deployed stack's runtime and bucket, with the caller's AWS credentials."""
    from ops.invoke.job import INVOKE_CONFIG  # noqa: PLC0415
    from ops.stack import aws_client, read_outputs  # noqa: PLC0415

    outputs = read_outputs(stack, outputs_file)
    region = outputs["region"]
    agentcore = aws_client("bedrock-agentcore", region, config=INVOKE_CONFIG)
    return StackRunner(stack, outputs, aws_client("s3", region), agentcore, caller_identity(aws_client("sts", region)))


def caller_identity(sts: Any) -> str:
    """Who the console acts as in AWS: its stack jobs are recorded, and listed again, under this ARN."""
    try:
        return str(sts.get_caller_identity()["Arn"])
    except Exception as error:  # no or expired credentials: say so now, not at the first job
        raise OpsError(
            f"cannot tell who you are in AWS (sts get-caller-identity): {error}; check AWS_PROFILE"
        ) from None


def serve(
    *,
    local: bool,
    stack: str | None,
    outputs_file: Path | None,
    port: int,
    host: str,
    token: str | None,
    browser: bool,
    runs: Path,
    model: str,
    model_url: str | None,
    region: str | None,
    scripted: Path | None,
) -> None:
    if local == (stack is not None):
        raise OpsError("say where jobs run: --local (this machine) or --stack NAME (a deployed stack), not both")
    if not is_loopback(host) and not token:
        raise OpsError(f"--host {host} lets other machines in: give a --token they must present")
    if stack is not None:
        jobs = Jobs((runs / stack).resolve(), _no_local_models, stack_runner(stack, outputs_file))
    else:
        models.choose(model, model_url, region, scripted)  # a missing credential or endpoint: one line, now
        jobs = Jobs(runs.resolve(), lambda: models.choose(model, model_url, region, scripted)[0])
    token = token or secrets.token_urlsafe(24)
    with socket.socket() as probe:  # a busy port is one line, not uvicorn's traceback
        try:
            probe.bind((host, port))
        except OSError as error:
            raise OpsError(f"cannot listen on {host}:{port}: {error.strerror}; choose another --port") from None
        port = probe.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    address = f"http://{shown_host}:{port}/?token={token}"
    say(f"Deep Insight console on {address} (jobs on {jobs.runner.where}, kept in {jobs.root}); Ctrl-C stops it")
    if browser:
        webbrowser.open(address)
    uvicorn.run(create_app(jobs, token), host=host, port=port, log_level="warning")
