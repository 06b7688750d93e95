"""Each session's share of the disk (EXECUTOR_MAX_WORKSPACE_MB), and the space the server keeps for itself.

On Fargate the workdir and /tmp share the task's ~20 GiB of ephemeral storage with nothing else to fall back
on: a session that fills it would leave the server unable to start a kernel or write an upload for anyone.
A session's usage is what its workspace and private folder (which holds its workers' TMPDIR) take on disk.
Four things hold it: uploads and sync downloads are refused past the quota; workers get RLIMIT_FSIZE = the
quota; a watchdog stops a running call that goes over, or that brings a filesystem below its reserve; and
after each call the files that call created are removed, largest first, until the session is back under.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import stat
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from deep_insight_contract.environment import ExecutorEnv
from deep_insight_contract.executor import CallError, CallStatus, ErrorType, ExecuteResult

from deep_insight_executor.disktree import FileInfo, allocated, remove, scan
from deep_insight_executor.shm import SharedMemory

log = logging.getLogger("deep_insight_executor.quota")

MB = 1024 * 1024
RESERVE_FLOOR_MB = 256
RESERVE_SHARE = 0.05
MIN_QUOTA_MB = 64
WATCH_SECONDS = 0.25
"""statvfs costs microseconds; a call writing at 1 GB/s overshoots the reserve by at most this long's worth."""
WALK_SECONDS = 1.0
"""The least time between two walks of a session's folders during a call (a walk reads every inode)."""
IDLE_WALK_SECONDS = 5.0
"""The same between calls, when only threads left in the kernel can write; a fast writer is caught sooner,
by the disk's free space (statvfs every WATCH_SECONDS)."""
INLINE_WALK_SECONDS = 0.001
"""The after-call walk runs on the event loop when the session's last walk took less than this (a fresh
session's folders: ~0.25 ms, less than handing it to a thread costs); longer ones run in a thread, so that a
session with many files does not hold up the others' requests."""
LOW_SLACK_BYTES = 16 * MB
"""A disk already below its reserve when a call starts: the call is stopped only if it loses this much more."""
MTIME_SLACK_SECONDS = 1.0
"""The kernel stamps files with a coarse clock, a few ms behind time.time()."""
TEMP_FOLDER = "tmp"
"""The workers' TMPDIR, inside the session's private folder, so that temporary files count."""
SHOWN_FILES = 5


def reserve_bytes(total: int) -> int:
    """What the server keeps free on a filesystem of ``total`` bytes: 5 %, at least 256 MB, yet at most a
    quarter of it (a 64 MB disk keeps 16 MB, not all of it)."""
    return min(max(RESERVE_FLOOR_MB * MB, int(total * RESERVE_SHARE)), total // 4)


def default_quota_mb(total: int, free: int, sessions: int) -> int:
    """The quota when EXECUTOR_MAX_WORKSPACE_MB is unset: the space free beyond the reserve, shared by the
    sessions the executor can hold at once, and never less than 64 MB."""
    spare = max(0, free - reserve_bytes(total))
    return max(MIN_QUOTA_MB, spare // max(1, sessions) // MB)


def megabytes(size: int) -> str:
    return f"{size / MB:.1f} MB"


def existing(path: Path) -> Path:
    """``path``, or its nearest parent that exists (the workdir is made only once the server starts)."""
    path = Path(os.path.abspath(path))
    while not os.path.exists(path) and path != path.parent:  # False too where we may not look
        path = path.parent
    return path


@dataclass(frozen=True)
class Filesystem:
    path: Path
    total: int
    reserve: int

    @classmethod
    def of(cls, folder: Path) -> Filesystem:
        path = existing(folder)
        while True:
            try:
                info = os.statvfs(path)
                break
            except OSError:  # the start-up check reports a folder we cannot reach; measure what we can
                if path == path.parent:
                    return cls(path, 0, 0)
                path = path.parent
        total = info.f_blocks * info.f_frsize
        return cls(path, total, reserve_bytes(total))

    def free(self) -> int:
        """Bytes an unprivileged writer may still use (root's own reserved blocks are not ours to count on)."""
        try:
            info = os.statvfs(self.path)
        except OSError:
            return self.total
        return info.f_bavail * info.f_frsize


Floors = dict[Filesystem, int]


@dataclass(frozen=True)
class DiskPolicy:
    quota_bytes: int
    filesystems: tuple[Filesystem, ...]
    """The workdir's, then the server's temporary folder's when it is another one."""

    @classmethod
    def at_start(cls, workdir: Path, temp: Path, quota_mb: int | None, sessions: int) -> DiskPolicy:
        found: dict[int, Filesystem] = {}
        for folder in (workdir, temp):
            filesystem = Filesystem.of(folder)
            try:
                device = os.stat(filesystem.path).st_dev
            except OSError:
                device = -len(found) - 1
            found.setdefault(device, filesystem)
        filesystems = tuple(found.values())
        if quota_mb is None:
            first = filesystems[0]
            quota_mb = default_quota_mb(first.total, first.free(), sessions)
        return cls(quota_mb * MB, filesystems)

    def summary(self, derived_from: int | None) -> str:
        """One log line: the quota (and, when it was derived, from what) and each filesystem's reserve."""
        shared = f" (free space beyond the reserve, shared by {derived_from} sessions)" if derived_from else ""
        reserves = ", ".join(f"{megabytes(fs.reserve)} of {fs.path}" for fs in self.filesystems)
        return f"disk quota per session: {megabytes(self.quota_bytes)}{shared}; kept free for the server: {reserves}"

    def floors(self) -> Floors:
        """The free space each filesystem must keep during a call: its reserve, or (when it is already
        below) a little less than it has now, so that a call is stopped only for making things worse."""
        return {fs: min(fs.reserve, max(0, fs.free() - LOW_SLACK_BYTES)) for fs in self.filesystems}

    @staticmethod
    def below(floors: Floors) -> tuple[Filesystem, int] | None:
        """The first filesystem below its floor, with its free bytes."""
        for filesystem, floor in floors.items():
            free = filesystem.free()
            if free < floor:
                return filesystem, free
        return None


@dataclass(frozen=True)
class Found:
    shown: str
    """As the message names it: relative to the workspace, or under ``$TMPDIR/``."""
    root: Path
    info: FileInfo
    removable: bool


def quota_message(quota: int, used: int) -> str:
    return (
        f"the session went over its disk quota of {megabytes(quota)} ({ExecutorEnv.MAX_WORKSPACE_MB}): its "
        f"workspace and temporary folder held {megabytes(used)}"
    )


def upload_refusal(path: str, quota: int, used: int) -> str:
    return (
        f"{path!r} would take the session over its disk quota of {megabytes(quota)} "
        f"({ExecutorEnv.MAX_WORKSPACE_MB}; {megabytes(used)} in use); delete files first or raise the setting"
    )


def _listing(removed: list[Found]) -> str:
    shown = [f"{found.shown} ({megabytes(found.info.allocated)})" for found in removed[:SHOWN_FILES]]
    rest = removed[SHOWN_FILES:]
    if rest:
        shown.append(f"and {len(rest)} more files ({megabytes(sum(found.info.allocated for found in rest))})")
    return ", ".join(shown)


class SessionDisk:
    """One session's folders measured against the policy; ``guarded`` wraps each of its calls."""

    def __init__(
        self, policy: DiskPolicy, workspace: Path, private_dir: Path, shared_memory: SharedMemory | None = None
    ) -> None:
        self.policy = policy
        self.workspace = workspace
        self.private_dir = private_dir
        self.shared_memory = shared_memory
        self.pending: str | None = None
        """Why the session's worker was stopped between calls (over the quota), for its next call to answer."""
        self._known: dict[str, tuple[int, int]] | None = None
        """Every file the session had after its last call: never removed by a later call's clean-up."""
        self._used = 0
        """The session's usage when ``_known`` was taken."""
        self._walk_seconds = 0.0
        """How long the last walk of the session's folders took."""

    def take_stock(self) -> None:
        """Files arrived between calls (upload, sync): they are the session's, never removed as a call's."""
        found = self.files()
        self._known = {item.shown: item.info.inode for item in found}
        self._used = allocated([item.info for item in found])

    def files(self) -> list[Found]:
        began = time.perf_counter()
        found = [Found(info.path, self.workspace, info, True) for info in scan(self.workspace)]
        temp = f"{TEMP_FOLDER}/"
        for info in scan(self.private_dir):
            if info.path.startswith(temp):
                found.append(Found(f"$TMPDIR/{info.path.removeprefix(temp)}", self.private_dir, info, True))
            else:  # kernel sockets, matplotlib's and IPython's folders: counted, never removed
                found.append(Found(f".private/{info.path}", self.private_dir, info, False))
        if self.shared_memory is not None:
            shm = self.shared_memory
            found.extend(Found(f"{shm.root}/{info.path}", shm.root, info, True) for info in shm.files())
        self._walk_seconds = time.perf_counter() - began
        return found

    def usage(self) -> int:
        return allocated([found.info for found in self.files()])

    def room_for(self, target: Path) -> tuple[int, int]:
        """(bytes a file written to ``target`` may take, bytes in use): what it replaces is given back."""
        used = self.usage()
        replaced = 0
        with contextlib.suppress(OSError):
            info = os.lstat(target)
            if stat.S_ISREG(info.st_mode) and info.st_nlink == 1:
                replaced = info.st_blocks * 512
        return self.policy.quota_bytes - used + replaced, used

    async def guarded(self, run: Callable[[asyncio.Event], Awaitable[ExecuteResult]]) -> ExecuteResult:
        """``run(stop)`` with the watchdog setting ``stop``, then the clean-up and the answer."""
        if self._known is None:
            await asyncio.to_thread(self.take_stock)
        started = time.time()
        floors = self.policy.floors()
        stop = asyncio.Event()
        tripped: list[str] = []
        watchdog = asyncio.create_task(self._watch(floors, stop, tripped))
        try:
            result = await run(stop)
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
        if self._walk_seconds < INLINE_WALK_SECONDS:
            return self._settle(result, started, floors, tripped)
        return await asyncio.to_thread(self._settle, result, started, floors, tripped)

    async def between_calls(self, stop_worker: Callable[[], Awaitable[None]]) -> None:
        """Watch the session while no call runs: a thread its code left in the kernel can still write. Over
        the quota, or with a disk below its reserve, the worker is stopped (``stop_worker``), what was written
        since the last call ended is removed as after a call, and ``pending`` says so to the next call."""
        since = time.time()
        if self._known is None:
            await asyncio.to_thread(self.take_stock)
        floors = self.policy.floors()
        tripped: list[str] = []
        await self._watch(floors, asyncio.Event(), tripped, walk_seconds=IDLE_WALK_SECONDS)
        await stop_worker()
        settled = await asyncio.to_thread(
            self._settle, ExecuteResult(status=CallStatus.OK), since, floors, tripped, "the code left running"
        )
        if settled.error is not None:
            self.pending = (
                "between calls, code this session left running (a thread or process of its worker) wrote on: "
                f"the worker was stopped, so its variables and imports are gone, and this call was not run; "
                f"{settled.error.message}"
            )

    def take_pending(self) -> ExecuteResult | None:
        """The answer for a call that comes after the worker was stopped between calls (once)."""
        message, self.pending = self.pending, None
        if message is None:
            return None
        return ExecuteResult(status=CallStatus.ERROR, error=CallError(ErrorType.WORKSPACE_QUOTA, message))

    async def _watch(
        self, floors: Floors, stop: asyncio.Event, tripped: list[str], walk_seconds: float = WALK_SECONDS
    ) -> None:
        # A walk reads every inode of the session, statvfs one number: walks come at most once a second, or
        # as soon as the workdir's free space has dropped by more than the session had room for (a fast
        # writer), and never take more than a fifth of the time.
        workdir = self.policy.filesystems[0]
        start_free, room = workdir.free(), self.policy.quota_bytes - self._used
        walked_at, cost = time.monotonic(), 0.0
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            if self.policy.below(floors) is not None:
                tripped.append("disk")
                break
            since = time.monotonic() - walked_at
            suspicious = start_free - workdir.free() > room
            if since >= max(walk_seconds, 4 * cost) or (suspicious and since >= 4 * cost):
                began = time.monotonic()
                used = await asyncio.to_thread(self.usage)
                walked_at = time.monotonic()
                cost = walked_at - began
                if used > self.policy.quota_bytes:
                    tripped.append("quota")
                    break
        stop.set()

    def _settle(
        self, result: ExecuteResult, started: float, floors: Floors, tripped: list[str], writer: str = "this call"
    ) -> ExecuteResult:
        found = self.files()
        used = allocated([item.info for item in found])
        quota = self.policy.quota_bytes
        low = self.policy.below(floors)
        if used <= quota and low is None and not tripped:
            self._known = {item.shown: item.info.inode for item in found}
            self._used = used
            return result
        known = self._known or {}
        candidates = sorted(
            (
                item
                for item in found
                if item.removable
                and item.info.mtime >= started - MTIME_SLACK_SECONDS
                and known.get(item.shown) != item.info.inode
            ),
            key=lambda item: item.info.allocated,
            reverse=True,
        )
        removed: list[Found] = []
        left = used
        for item in candidates:
            if left <= quota and self.policy.below(floors) is None:
                break
            if remove(item.root, item.info):
                removed.append(item)
                if item.info.links == 1:
                    left -= item.info.allocated
        gone = {id(item) for item in removed}
        self._known = {item.shown: item.info.inode for item in found if id(item) not in gone}
        self._used = max(0, left)
        still_low = self.policy.below(floors)
        parts: list[str] = []
        if used > quota or "quota" in tripped:
            parts.append(quota_message(quota, used))
        where = low or still_low
        if where is not None:
            filesystem, free = where
            parts.append(
                f"the disk of {filesystem.path} fell below the {megabytes(filesystem.reserve)} the executor keeps "
                f"free ({megabytes(free)} free)"
            )
        elif "disk" in tripped:
            parts.append("the disk fell below the space the executor keeps free during the call")
        parts.append(f"removed what {writer} wrote: {_listing(removed)}" if removed else f"nothing of {writer} removed")
        if left > quota:
            parts.append(f"the session still holds {megabytes(left)}, over its quota: delete files it no longer needs")
        if still_low is not None:
            parts.append(
                f"{still_low[0].path} still has only {megabytes(still_low[1])} free: files outside this session's "
                "folders (such as in /tmp) take the space; delete them"
            )
        prior = result.error
        if prior is not None and prior.type == ErrorType.WORKSPACE_QUOTA:
            parts.append(prior.message)  # how the worker was stopped
        elif prior is not None:
            first_line = prior.message.splitlines()[0] if prior.message else ""
            parts.append(f"the call itself ended with {prior.type}: {first_line}")
        parts.append(f"write less, delete files no longer needed, or raise {ExecutorEnv.MAX_WORKSPACE_MB}")
        message = "; ".join(parts)
        log.warning(message, extra={"event": "disk_quota"})
        traceback = prior.traceback if prior is not None else None
        error = CallError(ErrorType.WORKSPACE_QUOTA, message, traceback)
        return dataclasses.replace(result, status=CallStatus.ERROR, error=error)
