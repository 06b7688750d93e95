"""Bash calls: one ``/bin/bash -c`` per call in the session's workspace, with the worker's limits (worker.py);
its whole process group is killed when the call ends."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

from deep_insight_contract.executor import CallError, CallStatus, ErrorType, ExecuteResult

from deep_insight_executor.memory import WATCHDOG, offer_to_oom_killer
from deep_insight_executor.output import CappedText
from deep_insight_executor.sandbox_filter import worker_filter
from deep_insight_executor.worker import (
    Limits,
    captured,
    kill_tree,
    limit_child,
    make_private_folders,
    worker_environment,
)


async def run_bash(
    command: str,
    *,
    workspace: Path,
    private_dir: Path,
    limits: Limits,
    timeout: float,
    stop: asyncio.Event | None = None,
) -> ExecuteResult:
    """One shell command in the workspace, with the worker's limits; its whole process group dies after, or
    as soon as ``stop`` (the disk watchdog's) is set."""
    started = time.monotonic()
    make_private_folders(private_dir, limits)
    stdout = CappedText(limits.max_output_bytes)
    stderr = CappedText(limits.max_output_bytes)
    with worker_filter() as signal_filter:
        process = await asyncio.create_subprocess_exec(
            "/bin/bash",
            "-c",
            command,
            cwd=workspace,
            env=worker_environment(workspace, private_dir),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            preexec_fn=limit_child(limits, signal_filter),
        )
    offer_to_oom_killer(process.pid)

    async def pump(stream: asyncio.StreamReader, sink: CappedText) -> None:
        while chunk := await stream.read(65536):
            sink.write(chunk)

    assert process.stdout is not None
    assert process.stderr is not None
    pumps = asyncio.gather(pump(process.stdout, stdout), pump(process.stderr, stderr))
    WATCHDOG.watch(process.pid, limits.memory_mb)
    status, error = CallStatus.OK, None
    exited = asyncio.ensure_future(process.wait())
    stopping = asyncio.ensure_future(stop.wait() if stop is not None else asyncio.Event().wait())
    try:
        await asyncio.wait((exited, stopping), timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if not exited.done():
            if stopping.done():
                status = CallStatus.ERROR
                error = CallError(ErrorType.WORKSPACE_QUOTA, "the command was stopped and killed")
            else:
                status = CallStatus.TIMEOUT
                error = CallError(ErrorType.TIMEOUT, f"the command ran longer than {timeout:g} s and was killed")
    finally:
        stopping.cancel()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        kill_tree(process.pid, include_root=True)
        await exited
        kill = WATCHDOG.forget(process.pid)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pumps, 5)
    if kill is not None:
        status = CallStatus.ERROR
        error = CallError(ErrorType.WORKER_CRASHED, kill.message("the command"))
    elif status == CallStatus.OK and process.returncode != 0:
        status = CallStatus.ERROR
        error = CallError(ErrorType.EXIT_CODE, f"the command exited with status {process.returncode}")
    return captured(status, stdout, stderr, error, started)
