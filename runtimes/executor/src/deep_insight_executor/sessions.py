"""Sessions: a workspace, a worker, a lock that serializes calls, and the clocks that end them."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import logging
import os
import secrets
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deep_insight_contract.environment import ExecutorEnv
from deep_insight_contract.executor import CallError, CallStatus, ErrorType, ExecuteResult, Language

from deep_insight_executor import sandbox
from deep_insight_executor.bash import run_bash
from deep_insight_executor.config import ExecutorConfig
from deep_insight_executor.folders import (
    UNIX_SOCKET_PATH_MAX,
    longest_socket_path,
    make_slot_folders,
    worker_temp,
    write_shared_files,
)
from deep_insight_executor.processes import KEEPER, end_processes
from deep_insight_executor.quota import DiskPolicy, SessionDisk, megabytes
from deep_insight_executor.shm import SharedMemory
from deep_insight_executor.worker import Limits, PythonWorker
from deep_insight_executor.writable import Folder, Unwritable, first_unwritable, first_unwritable_as, temp_dir

log = logging.getLogger("deep_insight_executor.sessions")

# When the server runs as root (a developer's machine, CI), each session's code runs as its own
# unprivileged uid: sessions cannot read each other's files or kernels, and the process cap applies
# (root ignores RLIMIT_NPROC). In the image the server is already the unprivileged uid 10001.
# Each server takes its own block of uids, so servers side by side (tests, a developer's machine) never
# share one: processes left by a session (zombies count) can't eat into another's process cap.
FIRST_SESSION_UID = 200_000
UIDS_PER_SERVER = 1000


class SessionLimitError(RuntimeError):
    pass


class SessionStartError(RuntimeError):
    """A session's folders could not be made (the disk is full): the call may be repeated later."""


DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def start_failure(error: OSError, folder: Path) -> str:
    """Why a worker or a session's folders could not be made, naming the disk when that is the reason."""
    if error.errno in DISK_FULL:
        free = Path(folder).exists() and shutil.disk_usage(folder).free
        return f"the disk of {folder} is full ({megabytes(free or 0)} free); try again once space is freed"
    return f"{error}; try again"


def usable_by_others(path: Path) -> bool:
    """Whether a uid other than ours can reach and execute ``path`` (every folder on the way o+x)."""
    real = Path(os.path.realpath(path))
    try:
        if not real.stat().st_mode & 0o001:
            return False
        return all(folder.stat().st_mode & 0o001 for folder in real.parents)
    except OSError:
        return False


def can_drop_privileges() -> bool:
    """Root, and an interpreter and standard library that an unprivileged uid can use."""
    if os.geteuid() != 0:
        return False
    stdlib = Path(os.__file__).parent
    return usable_by_others(Path(sys.executable)) and usable_by_others(stdlib)


SLOT_TOKEN_BYTES = 8
SETTLE_SECONDS = 0.05
"""At a session's end its processes are killed, then looked for once more this much later."""


def slot_name(token: str) -> str:
    """A slot's folder name: not the session id, since a slot is prepared before its session exists."""
    return f"w-{token}"


@dataclass
class Slot:
    """A workspace, a private folder and a uid, with (for a spare) an already started worker."""

    workspace: Path
    private_dir: Path
    limits: Limits
    worker: PythonWorker | None = None


@dataclass
class Session:
    id: str
    workspace: Path
    private_dir: Path
    limits: Limits
    created: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    worker: PythonWorker | None = None
    disk: SessionDisk | None = None
    last_of_uid: Callable[[], bool] = lambda: True
    """Whether no other session shares this one's uid (a non-root server's sessions all share the server's)."""
    _between_calls: asyncio.Task[None] | None = None

    @property
    def owner(self) -> tuple[int, int] | None:
        return (self.limits.uid, self.limits.gid) if self.limits.uid is not None else None  # type: ignore[return-value]

    async def execute(self, code: str, language: Language, timeout: float) -> ExecuteResult:
        async with self.lock:
            self.last_used = time.monotonic()
            await self._stop_watching_between_calls()
            try:
                pending = self.disk.take_pending() if self.disk is not None else None
                if pending is not None:
                    return pending
                if self.disk is None:
                    return await self._run(code, language, timeout, None)
                return await self.disk.guarded(lambda stop: self._run(code, language, timeout, stop))
            finally:
                # Nothing the call started outlives it (processes.py); its kernel, which keeps the session's
                # variables, is the one process of the session left running, and is watched until the next call.
                self._end_strays(language)
                self.last_used = time.monotonic()
                self._watch_between_calls()

    def _end_strays(self, language: Language) -> None:
        """Kill what the call left running: the kernel's children (a thread of it may have started them after
        the code returned; a Python call's worker has killed its own already), and processes that left every
        worker's tree (the server is their subreaper)."""
        kernel = self.worker.pid if self.worker is not None else None
        if self.worker is not None and language == Language.BASH:
            self.worker.kill_strays()
        # Without the subreaper (not Linux, or prctl refused) a root server still finds them by their uid.
        uid = None if KEEPER.enabled else self.limits.uid
        end_processes(uid, frozenset({kernel}) if kernel else frozenset())

    def _watch_between_calls(self) -> None:
        if self.disk is not None and self._between_calls is None:
            self._between_calls = asyncio.create_task(self.disk.between_calls(self._stop_worker))

    async def _stop_watching_between_calls(self) -> None:
        task, self._between_calls = self._between_calls, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _stop_worker(self) -> None:
        if self.worker is not None:
            await self.worker.stop()
        end_processes(self.limits.uid)

    async def _run(self, code: str, language: Language, timeout: float, stop: asyncio.Event | None) -> ExecuteResult:
        try:
            if language == Language.BASH:
                return await run_bash(
                    code,
                    workspace=self.workspace,
                    private_dir=self.private_dir,
                    limits=self.limits,
                    timeout=timeout,
                    stop=stop,
                )
            if self.worker is None:
                self.worker = PythonWorker(self.workspace, self.private_dir, self.limits)
            return await self.worker.execute(code, timeout, stop)
        except (RuntimeError, OSError) as error:  # the worker (or the shell) could not be started
            log.exception("worker failed to start", extra={"session": self.id})
            if self.worker is not None:
                await self.worker.stop()
            why = start_failure(error, self.private_dir) if isinstance(error, OSError) else f"{error}; try again"
            return ExecuteResult(
                status=CallStatus.ERROR,
                error=CallError(ErrorType.WORKER_UNAVAILABLE, f"no worker could be started for this session: {why}"),
            )

    async def close(self) -> None:
        """Stop the worker and every process of the session, remove its files (also in /dev/shm)."""
        await self._stop_watching_between_calls()
        if self.worker is not None:
            await self.worker.stop()
            self.worker = None
        await asyncio.to_thread(end_processes, self.limits.uid, frozenset(), SETTLE_SECONDS)
        if self.disk is not None and self.disk.shared_memory is not None and self.last_of_uid():
            await asyncio.to_thread(self.disk.shared_memory.remove_all)
        shutil.rmtree(self.workspace, ignore_errors=True)
        shutil.rmtree(self.private_dir, ignore_errors=True)


class SessionManager:
    def __init__(self, config: ExecutorConfig, on_pinned_session_end: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.sessions: dict[str, Session] = {}
        self._uids = itertools.count(FIRST_SESSION_UID + (os.getpid() % 100_000) * UIDS_PER_SERVER)
        self._on_pinned_session_end = on_pinned_session_end
        self._creating = asyncio.Lock()
        self.workspaces = config.workdir / "sessions"
        self.private_root = config.workdir / ".private"
        self.font_cache: Path | None = None
        self._shared_written = False
        self._shm = SharedMemory.of_server()
        self._spare: asyncio.Task[Slot] | None = None
        self.closing = False
        self.drop_privileges = can_drop_privileges()
        self.sandbox = sandbox.find() if config.sandbox == "bwrap" else None
        sessions = 1 if config.session_id is not None else config.max_sessions
        self.disk_policy = DiskPolicy.at_start(config.workdir, temp_dir(), config.max_workspace_mb, sessions)
        self.disk_summary = self.disk_policy.summary(None if config.max_workspace_mb else sessions)
        if os.geteuid() == 0 and not self.drop_privileges:
            log.warning(
                "running as root with an interpreter other users cannot run (%s): user code runs as root, "
                "so sessions are not isolated from each other and the process cap is not enforced; run as an "
                "unprivileged user, or from an interpreter outside /root",
                sys.executable,
            )

    def socket_path_problem(self) -> str | None:
        """Why a session's kernel could not be reached under this workdir (its sockets' paths too long), or None."""
        path = longest_socket_path(self.private_root / slot_name("0" * SLOT_TOKEN_BYTES * 2))
        if len(path.encode()) <= UNIX_SOCKET_PATH_MAX:
            return None
        return (
            f"{ExecutorEnv.WORKDIR}={self.config.workdir} is too long: a session's kernel sockets under it would be "
            f"{len(path.encode())} bytes, over the {UNIX_SOCKET_PATH_MAX}-byte limit of a unix socket path; "
            f"choose a shorter workdir ({ExecutorEnv.WORKDIR} or --workdir)"
        )

    def unwritable(self) -> Unwritable | None:
        """The first folder that this server, or (as root) a session's own uid, cannot write; None if all can.

        The server writes the workdir and its temporary folder. As root it also makes each session a
        workspace and a private folder under the workdir, owned by the session's uid, whose code then
        writes there and in the temporary folder: that is tried too, with a throwaway session's folders.
        """
        workdir = Folder(self.config.workdir, ExecutorEnv.WORKDIR)
        temp = Folder(temp_dir(), "TMPDIR")
        problem = first_unwritable([workdir, temp])
        if problem is not None or not self.drop_privileges:
            return problem
        slot = self._new_slot()
        uid = slot.limits.uid
        try:
            if uid is None:  # not with drop_privileges: every slot has its own uid
                return problem
            workspace = Folder(workdir.path, workdir.setting, probe=slot.workspace)
            private = Folder(workdir.path, workdir.setting, probe=worker_temp(slot.private_dir))
            return first_unwritable_as(uid, slot.limits.gid or uid, [workspace, private, temp])
        finally:
            shutil.rmtree(slot.workspace, ignore_errors=True)
            shutil.rmtree(slot.private_dir, ignore_errors=True)

    async def warm_font_cache(self) -> None:
        """Build matplotlib's font list once, in a throwaway process, for every worker to copy."""
        cache = self.private_root / "font-cache"
        cache.mkdir(parents=True, exist_ok=True)
        with KEEPER.spawning():
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                "import matplotlib.font_manager",
                env={"PATH": os.environ.get("PATH", os.defpath), "MPLCONFIGDIR": str(cache), "MPLBACKEND": "Agg"},
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            KEEPER.register(process.pid)
        try:
            if await process.wait() == 0 and any(cache.glob("fontlist-*.json")):
                self.font_cache = cache
        finally:
            KEEPER.forget(process.pid)

    def __len__(self) -> int:
        return len(self.sessions)

    def _limits(self) -> Limits:
        uid = next(self._uids) if self.drop_privileges else None
        return Limits(
            memory_mb=self.config.memory_limit_mb,
            max_processes=self.config.max_processes,
            max_output_bytes=self.config.max_output_bytes,
            max_file_bytes=self.disk_policy.quota_bytes,
            uid=uid,
            gid=uid,
            sandbox=self.sandbox,
        )

    def _new_slot(self) -> Slot:
        limits = self._limits()
        name = slot_name(secrets.token_hex(SLOT_TOKEN_BYTES))
        workspace, private_dir = self.workspaces / name, self.private_root / name
        if not self._shared_written:
            write_shared_files(self.private_root)
            self._shared_written = True
        owner = (limits.uid, limits.gid or limits.uid) if limits.uid is not None else None
        make_slot_folders(workspace, private_dir, owner, self.font_cache)
        return Slot(workspace, private_dir, limits)

    def _shared_memory(self, limits: Limits) -> SharedMemory | None:
        if self._shm is None:
            return None
        return self._shm.for_uid(limits.uid) if limits.uid is not None else self._shm

    async def _prepare_spare(self) -> Slot:
        slot = self._new_slot()
        slot.worker = PythonWorker(slot.workspace, slot.private_dir, slot.limits)
        await slot.worker.start()
        return slot

    def start_spare(self) -> None:
        """Start a worker ahead of the next new session, so its first call finds a ready kernel."""
        if self._spare is not None or self.closing:
            return
        if len(self.sessions) >= self.config.max_sessions:
            return
        if self.config.session_id is not None and self.config.session_id in self.sessions:
            return  # a pinned executor serves one session: nothing will ever use another worker
        self._spare = asyncio.create_task(self._prepare_spare())

    async def _take_spare(self) -> Slot | None:
        spare, self._spare = self._spare, None
        if spare is None:
            return None
        try:
            return await spare
        except Exception:  # a spare that failed to start is only a missed head start
            log.exception("spare worker failed to start")
            return None

    async def get(self, session_id: str, *, create: bool = True) -> Session | None:
        async with self._creating:
            session = self.sessions.get(session_id)
            if session is not None or not create:
                return session
            if len(self.sessions) >= self.config.max_sessions:
                raise SessionLimitError(
                    f"this executor already serves {len(self.sessions)} sessions (EXECUTOR_MAX_SESSIONS); "
                    "delete one first"
                )
            try:
                slot = await self._take_spare() or self._new_slot()
            except OSError as error:
                raise SessionStartError(f"no session could be made: {start_failure(error, self.workspaces)}") from None
            session = Session(
                session_id,
                slot.workspace,
                slot.private_dir,
                slot.limits,
                worker=slot.worker,
                disk=SessionDisk(self.disk_policy, slot.workspace, slot.private_dir, self._shared_memory(slot.limits)),
                last_of_uid=(lambda: True) if slot.limits.uid is not None else (lambda: not self.sessions),
            )
            self.sessions[session_id] = session
            log.info("session created", extra={"session": session_id, "event": "session_created"})
        self.start_spare()
        return session

    async def delete(self, session_id: str, reason: str = "deleted") -> bool:
        session = self.sessions.pop(session_id, None)
        if session is None:
            return False
        await session.close()
        log.info(f"session ended: {reason}", extra={"session": session_id, "event": "session_ended"})
        if self.config.session_id == session_id and self._on_pinned_session_end is not None:
            self._on_pinned_session_end(reason)
        return True

    async def expire(self) -> list[str]:
        """End sessions idle longer than the idle timeout or older than the session timeout."""
        now = time.monotonic()
        expired = [
            (sid, "idle timeout" if now - s.last_used > self.config.idle_timeout_seconds else "session timeout")
            for sid, s in self.sessions.items()
            if not s.lock.locked()
            and (
                now - s.last_used > self.config.idle_timeout_seconds
                or now - s.created > self.config.session_timeout_seconds
            )
        ]
        for sid, reason in expired:
            await self.delete(sid, reason)
        return [sid for sid, _ in expired]

    async def close_all(self) -> None:
        self.closing = True
        spare = await self._take_spare()
        if spare is not None:
            await Session("spare", spare.workspace, spare.private_dir, spare.limits, worker=spare.worker).close()
        await asyncio.gather(*(self.delete(sid, "server shutting down") for sid in list(self.sessions)))
