"""Start the console: check where it may listen, make its token, print its address, serve until Ctrl-C."""

from __future__ import annotations

import ipaddress
import secrets
import socket
import webbrowser
from pathlib import Path

import uvicorn

from ops.console import OpsError
from ops.invoke.job import say
from ops.local import models
from ops.web.app import create_app
from ops.web.jobs import Jobs


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    *,
    local: bool,
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
    if not local:
        raise OpsError("the console runs jobs on this machine for now: start it with --local")
    if not is_loopback(host) and not token:
        raise OpsError(f"--host {host} lets other machines in: give a --token they must present")
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
    say(f"Deep Insight console on {address} (jobs in {runs}); Ctrl-C stops it")
    if browser:
        webbrowser.open(address)
    uvicorn.run(create_app(jobs, token), host=host, port=port, log_level="warning")
