"""Where user code runs: a Jupyter kernel per session (Python) and a shell per call (bash, bash.py).

The kernel (ipykernel, driven by jupyter_client) is a separate process that keeps variables and
imports between calls, like a notebook. jupyter_client gives interrupts, restarts and liveness for
free; this module adds the limits: a resident-memory cap (memory.py: a memory bomb kills the worker, not
the server), a process cap (a fork bomb stops growing), a file-size cap (the disk quota, quota.py), a
wall-clock timeout (the worker is killed and replaced), output caps, and cleanup of processes user code
leaves behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import queue
import re
import resource
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from deep_insight_contract.executor import CallError, CallStatus, ErrorType, ExecuteResult
from jupyter_client.manager import AsyncKernelManager

from deep_insight_executor import sandbox
from deep_insight_executor.fd_output import KernelDescriptors
from deep_insight_executor.folders import (
    ensure_leaves,
    kernel_socket_base,
    shared_matplotlibrc,
    worker_environment,
    worker_temp,
)
from deep_insight_executor.memory import OOM_SCORE_ADJ, WATCHDOG, offer_to_oom_killer
from deep_insight_executor.output import CappedText
from deep_insight_executor.processes import KEEPER
from deep_insight_executor.procfs import children, has_children
from deep_insight_executor.sandbox import Bwrap
from deep_insight_executor.sandbox_filter import worker_filter

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
POLL_SECONDS = 0.2
# After a call's timeout the kernel gets SIGINT (KeyboardInterrupt, as a notebook's stop button) and this
# long to return to idle with the session's variables intact; only then is it killed and replaced.
INTERRUPT_GRACE_SECONDS = 3.0
KERNEL_START_TIMEOUT = 60.0
KERNEL_ARGUMENTS = [
    "--HistoryManager.enabled=False",
    "--IPKernelApp.log_level=ERROR",
    "--colors=NoColor",
    # ipykernel sleeps 0.5 ms before each execute_reply, for clients that stop reading output at the reply.
    # The server reads IOPub until the kernel's idle status, which the kernel publishes after flushing the
    # call's output on that same socket, so nothing is lost without it (test_api's last-words test).
    "--Kernel._execute_sleep=0",
    # The server reads the kernel's file descriptors 1 and 2 itself (fd_output.py).
    "--IPKernelApp.capture_fd_output=False",
]


@dataclass(frozen=True)
class Limits:
    memory_mb: int
    max_processes: int
    max_output_bytes: int
    max_file_bytes: int | None = None
    """RLIMIT_FSIZE: the session's disk quota, so that one file cannot pass it (a write beyond fails with EFBIG)."""
    uid: int | None = None
    """Run user code as this uid (the server drops to it when it runs as root); None: as the server."""
    gid: int | None = None
    sandbox: Bwrap | None = None
    """Run each worker inside bubblewrap (sandbox.py: local runs); None: as a plain process."""


def sandboxed(argv: list[str], limits: Limits, workspace: Path, private_dir: Path) -> list[str]:
    """``argv`` as the worker's command: inside the sandbox when the limits ask for one."""
    if limits.sandbox is None:
        return argv
    return sandbox.command(
        argv,
        bwrap=limits.sandbox,
        workspace=workspace,
        private_dir=private_dir,
        temp=worker_temp(private_dir),
        # The interpreter and its venv, and matplotlib's shared settings (outside the session's folders).
        read_only=[*sandbox.python_paths(sys.executable), shared_matplotlibrc(private_dir).parent],
    )


def captured(
    status: CallStatus, stdout: CappedText, stderr: CappedText, error: CallError | None, started: float
) -> ExecuteResult:
    """The answer to a call that started at ``started`` (time.monotonic) and captured these streams."""
    return ExecuteResult(
        status=status,
        stdout=stdout.text(),
        stderr=stderr.text(),
        error=error,
        duration_ms=int((time.monotonic() - started) * 1000),
        truncated=stdout.truncated or stderr.truncated,
    )


def limit_child(limits: Limits, signal_filter: Callable[[], None] | None = None) -> Callable[[], None]:
    """preexec_fn for worker processes: caps first, then drop privileges (caps cannot be raised back), then
    the seccomp filter that keeps user code from signalling the server (sandbox_filter.py), when there is one.

    No RLIMIT_AS: memory is capped on resident memory by the server's watchdog (memory.py), since numpy and
    its BLAS reserve far more address space than they use. The OOM killer is pointed at workers instead.
    """

    def apply() -> None:
        with contextlib.suppress(OSError):  # os calls only: this runs between fork and exec
            adj = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
            try:
                os.write(adj, str(OOM_SCORE_ADJ).encode())
            finally:
                os.close(adj)
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if limits.max_file_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_file_bytes, limits.max_file_bytes))
        if limits.gid is not None:
            os.setgroups([])
            os.setgid(limits.gid)
        if limits.uid is not None:
            os.setuid(limits.uid)
        if signal_filter is not None:
            signal_filter()

    return apply


def kill_tree(pid: int, *, include_root: bool) -> int:
    """SIGKILL every descendant of ``pid`` (and ``pid`` itself if asked); returns how many."""
    if not include_root and not has_children(pid):
        return 0
    try:
        root = psutil.Process(pid)
        victims = [child for child in root.children(recursive=True) if child.status() != psutil.STATUS_ZOMBIE]
    except psutil.NoSuchProcess:
        return 0
    if include_root:
        victims.append(root)
    for process in victims:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(victims, timeout=3)
    return len(victims)


def _kernel_pid(manager: AsyncKernelManager | None) -> int | None:
    """The kernel process's pid, once its manager has started it."""
    return getattr(getattr(manager, "provisioner", None), "pid", None)


class _OwnedKernelManager(AsyncKernelManager):
    """Writes the connection file so that the worker's own uid (and only it) can read it, and starts the
    kernel inside the sandbox when there is one."""

    owner: tuple[int, int] | None = None
    wrap: Callable[[list[str]], list[str]] = staticmethod(lambda argv: argv)  # type: ignore[assignment]

    def write_connection_file(self, **kwargs: Any) -> None:  # type: ignore[override]
        super().write_connection_file(**kwargs)
        if self.owner is not None:
            os.chown(self.connection_file, *self.owner)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        return self.wrap(super().format_kernel_cmd(extra_arguments))


class PythonWorker:
    """One Jupyter kernel for one session; restarted after a timeout or a crash."""

    def __init__(self, workspace: Path, private_dir: Path, limits: Limits) -> None:
        self.workspace = workspace
        self.private_dir = private_dir
        self.limits = limits
        self._manager: AsyncKernelManager | None = None
        self._client: Any = None
        self._descriptors: KernelDescriptors | None = None
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return _kernel_pid(self._manager)

    async def alive(self) -> bool:
        return self._manager is not None and await self._manager.is_alive()

    async def start(self) -> None:
        owner = (self.limits.uid, self.limits.gid or self.limits.uid) if self.limits.uid is not None else None
        ensure_leaves(self.private_dir, owner)
        manager = _OwnedKernelManager(
            kernel_name="python3",
            transport="ipc",  # unix sockets in the session's private directory, not TCP ports
            ip=str(kernel_socket_base(self.private_dir)),
        )
        manager.owner = owner
        manager.wrap = lambda argv: sandboxed(argv, self.limits, self.workspace, self.private_dir)
        # In the server's own folder, not in a leaf the session owns (folders.py): the server writes it.
        manager.connection_file = str(self.private_dir / f"kernel-{time.monotonic_ns()}.json")
        descriptors = KernelDescriptors()
        try:
            with worker_filter() as signal_filter, KEEPER.spawning():
                try:
                    await manager.start_kernel(
                        cwd=str(self.workspace),
                        env=worker_environment(self.workspace, self.private_dir),
                        preexec_fn=limit_child(self.limits, signal_filter),
                        extra_arguments=KERNEL_ARGUMENTS,
                        **descriptors.child_ends(),
                    )
                finally:
                    started = _kernel_pid(manager)
                    if started:
                        KEEPER.register(started)
        except BaseException:
            descriptors.close()
            raise
        descriptors.listen()
        if started:
            offer_to_oom_killer(started)
        client = manager.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=KERNEL_START_TIMEOUT)
        except BaseException:  # a kernel that died, hangs, or whose start was cancelled (the server stopping)
            client.stop_channels()
            descriptors.close()
            if started:
                kill_tree(started, include_root=True)  # synchronous: it happens even when this task is cancelled
            with contextlib.suppress(Exception):
                await manager.shutdown_kernel(now=True)
            if started:
                KEEPER.forget(started)
            raise
        self._manager, self._client, self._descriptors = manager, client, descriptors
        pid = self.pid
        if pid:
            WATCHDOG.watch(pid, self.limits.memory_mb)

    async def stop(self) -> None:
        manager, client, descriptors = self._manager, self._client, self._descriptors
        self._manager = self._client = self._descriptors = None
        if client is not None:
            client.stop_channels()
        if descriptors is not None:
            descriptors.close()
        if manager is not None:
            pid = _kernel_pid(manager)
            if pid:
                WATCHDOG.forget(pid)
                self.kill_strays()
            with contextlib.suppress(Exception):
                await manager.shutdown_kernel(now=True)
            if pid:
                KEEPER.forget(pid)
            with contextlib.suppress(OSError):
                Path(manager.connection_file).unlink()

    async def execute(self, code: str, timeout: float, stop: asyncio.Event | None = None) -> ExecuteResult:
        """Run ``code``; ``stop`` (the disk watchdog's) ends it early the way a timeout does."""
        if self._manager is not None and not await self.alive():
            # Killed after the last call answered (the memory watchdog, a thread of its own code): the session's
            # variables are gone, and the call must not run as if they were there.
            why = self._cause("after the last call answered")
            await self.stop()
            self.restarts += 1
            await self.start()
            return ExecuteResult(
                status=CallStatus.ERROR,
                error=CallError(
                    ErrorType.WORKER_CRASHED,
                    f"between calls, {why}; its variables and imports are gone and this call was not run: "
                    "send it again to run it in the fresh worker",
                ),
            )
        if not await self.alive():
            await self.stop()
            await self.start()
        result, killed = await self._run(code, timeout, stop)
        if killed:
            await self.stop()
            self.restarts += 1
            await self.start()
        elif result.error is not None and result.error.type == ErrorType.WORKER_CRASHED:
            await self.stop()
            self.restarts += 1
        else:
            # Processes user code left running (a fork bomb, a forgotten server) die with the call. Meanwhile
            # the memory they still hold does not count: it is on its way out (memory.py, ``paused``).
            pid = self.pid
            with WATCHDOG.paused(pid or 0):
                self.kill_strays()
            if (pid and WATCHDOG.enforce(pid) is not None) or not await self.alive():
                result = dataclasses.replace(
                    result, status=CallStatus.ERROR, error=CallError(ErrorType.WORKER_CRASHED, self._death())
                )
                await self.stop()
                self.restarts += 1
        return result

    def kill_strays(self) -> int:
        """Kill every process of the worker but the kernel itself; how many. In the sandbox the kernel is its
        command under bubblewrap and the sandbox's pid 1 (orphans there are reparented to pid 1)."""
        pid = self.pid
        if not pid:
            return 0
        if self.limits.sandbox is None:
            return kill_tree(pid, include_root=False)
        inner = sandbox.inner_pids(pid)
        if inner is None:
            return 0
        init, kernel = inner
        killed = kill_tree(kernel, include_root=False)
        for other in children(init):
            if other != kernel:
                killed += kill_tree(other, include_root=True)
        return killed

    async def _interrupt(self) -> None:
        """SIGINT to the kernel, as a notebook's stop button. In the sandbox, to the kernel's own process group:
        bubblewrap passes no signal on, and would die of one sent to its group."""
        if self.limits.sandbox is None:
            await self._manager.interrupt_kernel()  # type: ignore[union-attr]
            return
        inner = sandbox.inner_pids(self.pid or 0)
        if inner is not None:
            os.killpg(inner[1], signal.SIGINT)

    async def _run(self, code: str, timeout: float, stop: asyncio.Event | None) -> tuple[ExecuteResult, bool]:
        """The call's answer, and whether its timeout ended in a kill (the worker must be replaced)."""
        client = self._client
        started = time.monotonic()
        deadline = started + timeout
        stdout = CappedText(self.limits.max_output_bytes)
        stderr = CappedText(self.limits.max_output_bytes)
        error: CallError | None = None
        descriptors = self._descriptors
        if descriptors is not None:
            descriptors.begin(stdout, stderr)
        msg_id = client.execute(code, store_history=False, allow_stdin=False, stop_on_error=False)
        status = CallStatus.OK
        interrupted_at: float | None = None
        stopped = False  # by ``stop`` before the deadline
        killed = False
        while True:
            now = time.monotonic()
            if interrupted_at is None and (now >= deadline or (stop is not None and stop.is_set())):
                interrupted_at, stopped = now, now < deadline
                with contextlib.suppress(Exception):  # a dead kernel is found below, as a crash or a kill
                    await self._interrupt()
            if interrupted_at is not None and now >= interrupted_at + INTERRUPT_GRACE_SECONDS:
                status, killed = (CallStatus.ERROR if stopped else CallStatus.TIMEOUT), True
                error = CallError(
                    ErrorType.WORKSPACE_QUOTA if stopped else ErrorType.TIMEOUT,
                    ("the call" if stopped else f"the call ran longer than {timeout:g} s and")
                    + " did not stop when interrupted; the worker was killed and replaced, so variables and "
                    "imports of this session are gone",
                )
                break
            end = deadline if interrupted_at is None else interrupted_at + INTERRUPT_GRACE_SECONDS
            remaining = max(end - now, 0.01)
            try:
                message = await client.get_iopub_msg(timeout=min(POLL_SECONDS, remaining))
            except queue.Empty:
                if not await self._manager.is_alive():  # type: ignore[union-attr]
                    status = CallStatus.ERROR
                    error = CallError(ErrorType.WORKER_CRASHED, self._death())
                    break
                continue
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                (stdout if content["name"] == "stdout" else stderr).write(content["text"])
            elif kind in ("execute_result", "display_data"):
                text = content.get("data", {}).get("text/plain")
                if text is not None and kind == "execute_result":
                    stdout.write(text + "\n")
            elif kind == "error":
                status = CallStatus.ERROR
                error = CallError(content["ename"], content["evalue"], ANSI.sub("", "\n".join(content["traceback"])))
            elif kind == "status" and content["execution_state"] == "idle":
                if interrupted_at is not None:
                    status = CallStatus.ERROR if stopped else CallStatus.TIMEOUT
                    error = CallError(
                        ErrorType.WORKSPACE_QUOTA if stopped else ErrorType.TIMEOUT,
                        ("the call" if stopped else f"the call ran longer than {timeout:g} s and")
                        + " was interrupted (KeyboardInterrupt); the session's variables and imports are kept",
                        error.traceback if error is not None else None,
                    )
                break
        if descriptors is not None:
            descriptors.end()  # after the idle status: what the call wrote to its descriptors is all in the pipes
        crashed = error is not None and error.type == ErrorType.WORKER_CRASHED
        pid = self.pid
        if not killed and not crashed and pid and WATCHDOG.enforce(pid) is not None:
            # What the code kept can pass the limit between two watchdog passes: the call does not end ok.
            status, error, crashed = CallStatus.ERROR, CallError(ErrorType.WORKER_CRASHED, self._death()), True
        if not killed and not crashed:
            with contextlib.suppress(queue.Empty):  # the execute_reply, so the shell channel stays in step
                await client.get_shell_msg(timeout=1)
        return captured(status, stdout, stderr, error, started), killed

    def _death(self) -> str:
        """Why the worker died during a call, as far as the server can tell."""
        return f"{self._cause('during the call')}; the next call starts a fresh worker without this session's variables"

    def _cause(self, when: str) -> str:
        pid = self.pid
        kill = WATCHDOG.killed(pid) if pid else None
        if kill is not None:
            return kill.message("the worker")
        process = getattr(getattr(self._manager, "provisioner", None), "process", None)
        # bubblewrap exits with 128 + the signal that killed its command.
        if getattr(process, "returncode", None) in (-signal.SIGKILL, 128 + signal.SIGKILL):
            return (
                f"the worker process was killed (SIGKILL) {when}: by the code itself, or by the "
                "system's out-of-memory killer when the task ran out of memory"
            )
        return f"the worker process died {when} (os._exit, a crash, or out of memory)"
