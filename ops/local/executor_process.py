"""The code executor as a local process: the same package and API as in AWS, on 127.0.0.1, a random port and
token, pinned to one session (as a Fargate task is), in a workdir of its own; stopped when the job ends."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from deep_insight_contract.environment import ExecutorEnv
from deep_insight_contract.executor import HEALTH_PATH

from ops.console import OpsError
from ops.local.sandbox_choice import chosen

START_SECONDS = 60.0
STOP_SECONDS = 20.0
PASSED_ENVIRONMENT = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
"""What the executor inherits: no AWS_* (it needs no credentials) and nothing else of the caller's."""
LOCAL_RUNS = Path("/var/tmp")
"""Where a local run's folders go when it exists: not /tmp, which the sandbox makes the workers' own
temporary folder (sandbox.py) only when none of the session's folders lie under it."""


@dataclass(frozen=True)
class RunningExecutor:
    url: str
    token: str
    log: Path


def executable() -> Path:
    beside = Path(sys.executable).with_name("deep-insight-executor")
    found = beside if beside.exists() else shutil.which("deep-insight-executor")
    if not found:
        raise OpsError("deep-insight-executor is not installed here; run `uv sync` in the project first")
    return Path(found)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def local_executor(workdir: Path, session_id: str) -> Iterator[RunningExecutor]:
    """Start the executor, wait until it answers, yield where it is; stop it (and its kernels) at the end."""
    token = secrets.token_urlsafe(24)
    port = _free_port()
    log = workdir / "executor.log"
    # The token in a file the executor reads and removes at start: an environment variable would stay
    # readable in /proc by any process of the user's for as long as the executor runs.
    token_file = workdir / "executor.token"
    token_file.touch(mode=0o600)
    token_file.write_text(token)
    environment = {name: os.environ[name] for name in PASSED_ENVIRONMENT if name in os.environ}
    environment |= {
        ExecutorEnv.TOKEN_FILE: str(token_file),
        ExecutorEnv.SESSION_ID: session_id,
        ExecutorEnv.SANDBOX: chosen(),
    }
    command = [str(executable()), "--host", "127.0.0.1", "--port", str(port), "--workdir", str(workdir / "work")]
    (workdir / "work").mkdir(mode=0o755)
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=environment, stdout=output, stderr=subprocess.STDOUT)
    running = RunningExecutor(f"http://127.0.0.1:{port}", token, log)
    try:
        _wait_until_healthy(process, running)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_healthy(process: subprocess.Popen, running: RunningExecutor) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            last = running.log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise OpsError(f"the local executor exited with {process.returncode} at start: {last[0]}")
        try:
            if httpx.get(f"{running.url}{HEALTH_PATH}", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise OpsError(f"the local executor did not answer within {START_SECONDS:g} s (its log: {running.log})")
