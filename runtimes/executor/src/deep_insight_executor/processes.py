"""Every process a session starts ends with it: the server is a child subreaper and kills what escapes.

A worker's code can leave its worker's process tree: ``fork``, ``setsid``, ``fork`` again and let the middle
process exit (a daemon), or ``setsid -f`` in bash. The grandchild would be reparented to PID 1, outside every
tree the server watches: it would outlive its call and its session, hold memory past the worker limit and
write past the disk quota. So the server makes itself a child subreaper (``PR_SET_CHILD_SUBREAPER``): an
orphan of any worker is reparented to the server instead. The server's own children are the workers it
started (kernels, bash commands, a few helpers), each registered here; any other child is an escaped
process, and the memory watchdog's thread kills it, with everything it started, on its next pass (every
50 ms). When the server runs as root each session also has a uid of its own, and a session's end kills
every process of that uid, wherever it is.

Starting a worker and registering it are two steps, and the watchdog must not take a worker for an escapee in
between: ``spawning`` marks that window, during which no orphan is killed (it is killed on the next pass).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator

from deep_insight_executor.procfs import children, read_small, tree

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>
KILL_ROUNDS = 100
"""Kill, look again, kill what appeared meanwhile: a process that was forking when its parent died is found on
the next round. RLIMIT_NPROC bounds how many can appear; this bounds the rounds."""


def become_subreaper() -> bool:
    """Make this process the one orphans of its descendants are reparented to (Linux 3.4+); whether it worked."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        stat = read_small(f"/proc/{pid}/stat", 512)
    except OSError:
        return False
    return stat.rsplit(b")", 1)[-1].split()[:1] != [b"Z"]


def uid_of(pid: int) -> tuple[int, ...] | None:
    """``pid``'s real, effective, saved and filesystem uids; None when it is gone."""
    try:
        status = read_small(f"/proc/{pid}/status", 4096)
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith(b"Uid:"):
            return tuple(int(value) for value in line.split()[1:])
    return None


def _kill(pids: Iterable[int]) -> int:
    killed = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
            killed += 1
    return killed


def kill_uid(uid: int, keep: frozenset[int] = frozenset()) -> int:
    """SIGKILL every live process with ``uid`` among its uids, but those in ``keep``, until none is left;
    returns how many were killed. (Root only: a session's uid is its own, so this is the session.)"""
    total = 0
    for _ in range(KILL_ROUNDS):
        victims = [
            int(name)
            for name in os.listdir("/proc")
            if name.isdigit() and int(name) not in keep and uid in (uid_of(int(name)) or ()) and alive(int(name))
        ]
        if not victims:
            break
        total += _kill(victims)
    return total


class ProcessKeeper:
    """The server's registered children, and the killing of every other child (an escaped process)."""

    def __init__(self) -> None:
        self._own: set[int] = set()
        self._spawning = 0
        self._lock = threading.Lock()
        self.enabled = False
        """True once the server is a subreaper: only then do escaped processes come back to it."""

    def enable(self) -> bool:
        self.enabled = become_subreaper()
        return self.enabled

    @contextlib.contextmanager
    def spawning(self) -> Iterator[None]:
        """Around starting a worker and registering it: its pid is not yet known to be ours."""
        with self._lock:
            self._spawning += 1
        try:
            yield
        finally:
            with self._lock:
                self._spawning -= 1

    def register(self, pid: int) -> None:
        with self._lock:
            self._own.add(pid)

    def forget(self, pid: int) -> None:
        with self._lock:
            self._own.discard(pid)

    def orphans(self) -> list[int]:
        """The server's children it did not start: processes that escaped a worker's tree.

        Only the main thread's children are read: the kernel reparents an orphan to the subreaper's first
        live thread, its main thread while the server runs (a worker forked by another thread is registered
        anyway), and this runs after every call."""
        with self._lock:
            if self._spawning:
                return []
            own = set(self._own)
        server = os.getpid()
        try:
            listing = read_small(f"/proc/{server}/task/{server}/children", 1 << 16)
        except OSError:
            return [pid for pid in children(server) if pid not in own]
        return [pid for pid in map(int, listing.split()) if pid not in own]

    def kill_orphans(self) -> int:
        """Kill every escaped process with everything it started, and reap it; how many processes died."""
        if not self.enabled:
            return 0
        total = 0
        for _ in range(KILL_ROUNDS):
            orphans = self.orphans()
            if not orphans:
                break
            victims = [pid for orphan in orphans for pid in tree(orphan) if alive(pid)]
            total += _kill(victims)
            self._reap(orphans)
        return total

    @staticmethod
    def _reap(pids: list[int]) -> None:
        """Wait for killed orphans, our children now (nobody else will); briefly, never blocking: one stuck in
        the kernel (an uninterruptible read) is reaped by a later pass."""
        waiting = list(pids)
        for _ in range(20):
            still = []
            for pid in waiting:
                try:
                    done, _status = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    continue
                if not done:
                    still.append(pid)
            if not still:
                return
            waiting = still
            time.sleep(0.005)

    def reap(self) -> None:
        """Wait for escaped processes that died by themselves (zombies the server is now the parent of)."""
        if not self.enabled:
            return
        for pid in self.orphans():
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


KEEPER = ProcessKeeper()
"""The server's one keeper (enabled at start-up by ``__main__``)."""


def end_processes(uid: int | None, keep: frozenset[int] = frozenset(), settle_seconds: float = 0.0) -> int:
    """Kill what a session left: escaped processes (both modes) and, as root, every process of its uid but
    ``keep``. ``settle_seconds``: look once more after that long (a process may be forking as its parent dies)."""
    killed = KEEPER.kill_orphans()
    if uid is not None:
        killed += kill_uid(uid, keep)
    if settle_seconds:
        time.sleep(settle_seconds)
        killed += KEEPER.kill_orphans() + (kill_uid(uid, keep) if uid is not None else 0)
    return killed
