"""The worker memory limit, on resident memory: a watchdog thread in the server, plus the kernel's OOM killer
pointed at workers.

Why not ``RLIMIT_AS``: it caps address space, not memory. numpy's BLAS reserves address space per thread,
glibc reserves arenas, and Python maps its libraries, so at 410 MB (the worker of Fargate's smallest,
512 MB task) the kernel died before answering and at 768 MB ``import numpy`` failed, while the same
code needs only ~150 MB of real memory.

Why not a cgroup v2 child group: it would be exact, but it needs a writable, delegated cgroup, and a
Fargate container's ``/sys/fs/cgroup`` is read-only (the task's group belongs to the agent), as is a
container's without ``--cgroupns=private`` and a writable mount. The code would run nowhere we deploy or test.

So: every worker (a kernel, or a bash command, with their descendants) is registered here; a daemon
thread reads each one's resident set (``/proc/<pid>/statm``, plus its descendants' through
``/proc/<pid>/task/*/children``; when that sum is over the limit, the proportional sets, so pages forked
children share are counted once) every ``INTERVAL`` seconds and, above the limit, SIGKILLs its process
group and descendants and remembers why, so the call answers ``WorkerCrashed`` naming the limit. A worker
can outrun one interval (a few hundred MB at memset speed): for that, every worker's ``oom_score_adj``
is 1000 (``limit_child`` in worker.py), so if the task itself runs out of memory the kernel's OOM killer
takes a worker, never the server. The thread only reads small /proc files and does not touch the
event loop, so calls are not slowed.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from deep_insight_executor.processes import KEEPER
from deep_insight_executor.procfs import resident_bytes, tree

log = logging.getLogger("deep_insight_executor")

INTERVAL = 0.05
OOM_SCORE_ADJ = 1000
"""Each worker's oom_score_adj: the first the OOM killer takes (raising it needs no privilege)."""


def offer_to_oom_killer(pid: int) -> None:
    """Set a started worker's oom_score_adj from the server.

    The worker sets its own between fork and exec, but only a root server's child can: the child of an
    undumpable server (hardening.py) has root-owned /proc files until it execs. After exec they are the
    worker's uid's, which is the non-root server's own.
    """
    with contextlib.suppress(OSError), open(f"/proc/{pid}/oom_score_adj", "w") as adj:
        adj.write(str(OOM_SCORE_ADJ))


def proportional_bytes(pid: int) -> int:
    """``pid``'s proportional set (Pss: each shared page divided among its sharers); its resident set if
    the kernel has no smaps_rollup."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            for line in rollup:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return resident_bytes(pid)


def tree_memory_bytes(members: list[int], limit: int) -> int:
    """The memory of a process tree, as compared with its limit.

    The sum of resident sets first: cheap (one small read per process), and never less than the truth.
    Only above the limit the sum of proportional sets, which costs ~0.3 ms per process but does not count
    twice what forked children share with their parent (a fork of a 300 MB kernel is not 300 MB more).
    """
    resident = sum(resident_bytes(member) for member in members)
    if resident <= limit:
        return resident
    return sum(proportional_bytes(member) for member in members)


@dataclass
class Kill:
    """Why the watchdog killed a worker."""

    limit_mb: int
    resident_mb: int

    def message(self, what: str) -> str:
        return (
            f"{what} used more than the memory limit of {self.limit_mb} MB (EXECUTOR_MEMORY_LIMIT_MB; "
            f"{self.resident_mb} MB in use when it was stopped) and was killed"
        )


class MemoryWatchdog:
    """Kills any registered process tree whose resident memory passes its limit."""

    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval = interval
        self._limits: dict[int, int] = {}
        self._kills: dict[int, Kill] = {}
        self._lock = threading.Lock()
        self._enforcing = threading.Lock()
        """Held while a tree is measured and killed: ``paused`` waits for a measurement in flight."""
        self._paused: set[int] = set()
        self._thread: threading.Thread | None = None

    def watch(self, pid: int, limit_mb: int) -> None:
        with self._lock:
            self._limits[pid] = limit_mb
            self._kills.pop(pid, None)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="memory-watchdog", daemon=True)
                self._thread.start()

    def forget(self, pid: int) -> Kill | None:
        """Stop watching ``pid``; why it was killed, if the watchdog killed it."""
        with self._lock:
            self._limits.pop(pid, None)
            return self._kills.pop(pid, None)

    def killed(self, pid: int) -> Kill | None:
        with self._lock:
            return self._kills.get(pid)

    def check(self) -> None:
        """One pass over every watched worker (the thread's loop; tests call it directly)."""
        with self._lock:
            watched = list(self._limits)
        for pid in watched:
            self.enforce(pid)
        # A process that left its worker's tree (a daemon) is counted in no tree: it dies here, before it can
        # hold memory past a limit (processes.py).
        KEEPER.kill_orphans()

    def enforce(self, pid: int) -> Kill | None:
        """Kill ``pid``'s tree if it is over its limit now; why, if it was killed (by this or an earlier pass).

        Called by the thread, and once more when a call ends: an allocation the code keeps can finish
        between two passes, and the call must not answer ``ok`` with its worker over the limit.
        """
        with self._enforcing:
            with self._lock:
                limit_mb = self._limits.get(pid)
                if limit_mb is None or pid in self._paused:
                    return self._kills.get(pid)
            members = tree(pid)
            used = tree_memory_bytes(members, limit_mb * 1024 * 1024)
            if used <= limit_mb * 1024 * 1024:
                return None
            kill = Kill(limit_mb, used // (1024 * 1024))
            with self._lock:
                if self._limits.pop(pid, None) is None:
                    return self._kills.get(pid)  # forgotten or killed meanwhile: someone else is stopping it
                self._kills[pid] = kill
            terminate(pid, members)
        log.warning(
            "worker over its memory limit: killed",
            extra={"event": "memory_limit", "pid": pid, "limit_mb": limit_mb, "resident_mb": kill.resident_mb},
        )
        return kill

    @contextlib.contextmanager
    def paused(self, pid: int) -> Iterator[None]:
        """No pass measures ``pid``'s tree inside the block (a measurement in flight ends first): while the
        server kills what a call left, their memory is on its way out, and must not take the worker with it."""
        with self._enforcing, self._lock:
            self._paused.add(pid)
        try:
            yield
        finally:
            with self._lock:
                self._paused.discard(pid)

    def _run(self) -> None:
        stop = threading.Event()
        while not stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # the watchdog must outlive any surprise in /proc
                log.exception("memory watchdog pass failed")


def terminate(pid: int, members: list[int]) -> None:
    """SIGKILL ``pid``'s process group (never the server's) and every process of its tree."""
    with contextlib.suppress(OSError):
        group = os.getpgid(pid)
        if group == pid and group != os.getpgrp():
            os.killpg(group, signal.SIGKILL)
    for member in members:
        with contextlib.suppress(OSError):
            os.kill(member, signal.SIGKILL)


WATCHDOG = MemoryWatchdog()
"""The server's one watchdog (a thread, started with the first worker)."""


@functools.cache  # read once: a task's CPUs do not change
def cpu_limit() -> int:
    """The vCPUs this task may use: its cgroup CPU quota when one is set, else the CPUs it may run on."""
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        available = os.cpu_count() or 1
    quota: float | None = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        v2 = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "<quota> <period>", or "max <period>" for none
        v1 = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
        if v2.exists():
            raw = v2.read_text().split()
            quota = None if raw[0] == "max" else int(raw[0]) / int(raw[1])
        elif v1[0].exists():
            raw_quota, period = int(v1[0].read_text()), int(v1[1].read_text())
            quota = raw_quota / period if raw_quota > 0 and period > 0 else None
    if quota is not None:
        available = min(available, max(1, int(quota + 0.999)))
    return max(1, available)


def thread_caps() -> dict[str, str]:
    """BLAS and OpenMP thread counts for a worker: the task's vCPUs, not the host's cores (Fargate shows
    the host's), so a matrix product neither oversubscribes the task nor reserves a buffer per host core."""
    threads = str(cpu_limit())
    return dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"), threads)
