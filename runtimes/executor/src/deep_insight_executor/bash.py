"""Bash calls: one ``/bin/bash -c`` per call in the session's workspace, with the worker's limits (worker.py);
its whole process group is killed when the call ends.

A call ends when the shell exits, not when its output pipes close: a child that keeps them open (``setsid -f
sleep 120``) would otherwise hold the call, and the session's lock, for as long as it lives. (asyncio's
``Process.wait()`` waits for the pipes too: CPython gh-119710.) So the shell's exit is watched on its own, the
pipes get a moment to deliver what was written before it, and then whatever is left is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

from deep_insight_contract.executor import CallError, CallStatus, ErrorType, ExecuteResult

from deep_insight_executor.folders import ensure_leaves, worker_environment
from deep_insight_executor.memory import WATCHDOG, offer_to_oom_killer
from deep_insight_executor.output import CappedText
from deep_insight_executor.processes import KEEPER
from deep_insight_executor.sandbox_filter import worker_filter
from deep_insight_executor.worker import Limits, captured, kill_tree, limit_child, sandboxed

EXIT_POLL_SECONDS = 0.01
DRAIN_SECONDS = 0.5
"""How long the output pipes may still deliver after the shell exited, or after its group was killed."""


async def _exited(process: asyncio.subprocess.Process) -> int:
    """The shell's exit status, as soon as it has exited (whoever still holds its pipes)."""
    while process.returncode is None:
        await asyncio.sleep(EXIT_POLL_SECONDS)
    return process.returncode


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
    ensure_leaves(private_dir, (limits.uid, limits.gid or limits.uid) if limits.uid is not None else None)
    stdout = CappedText(limits.max_output_bytes)
    stderr = CappedText(limits.max_output_bytes)
    with worker_filter() as signal_filter, KEEPER.spawning():
        process = await asyncio.create_subprocess_exec(
            *sandboxed(["/bin/bash", "-c", command], limits, workspace, private_dir),
            cwd=workspace,
            env=worker_environment(workspace, private_dir),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            preexec_fn=limit_child(limits, signal_filter),
        )
        KEEPER.register(process.pid)
    offer_to_oom_killer(process.pid)

    async def pump(stream: asyncio.StreamReader, sink: CappedText) -> None:
        while chunk := await stream.read(65536):
            sink.write(chunk)

    assert process.stdout is not None
    assert process.stderr is not None
    pumps = asyncio.ensure_future(asyncio.gather(pump(process.stdout, stdout), pump(process.stderr, stderr)))
    WATCHDOG.watch(process.pid, limits.memory_mb)
    status, error = CallStatus.OK, None
    exited = asyncio.ensure_future(_exited(process))
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
        else:
            # What the shell wrote before it exited is in the pipes; a child holding them gets no longer.
            await asyncio.wait((pumps,), timeout=DRAIN_SECONDS)
    finally:
        stopping.cancel()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        kill_tree(process.pid, include_root=True)
        await exited
        kill = WATCHDOG.forget(process.pid)
        KEEPER.forget(process.pid)
        # Children that left the shell's group and tree (a daemon) hold its pipes: they die with the call.
        KEEPER.kill_orphans()
        await asyncio.wait((pumps,), timeout=DRAIN_SECONDS)
        if not pumps.done():  # a holder outside every tree we know of: stop reading rather than wait for it
            pumps.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pumps
        transport = getattr(process, "_transport", None)
        if transport is not None:
            transport.close()
    if kill is not None:
        status = CallStatus.ERROR
        error = CallError(ErrorType.WORKER_CRASHED, kill.message("the command"))
    elif status == CallStatus.OK and process.returncode != 0:
        status = CallStatus.ERROR
        error = CallError(ErrorType.EXIT_CODE, f"the command exited with status {process.returncode}")
    return captured(status, stdout, stderr, error, started)
