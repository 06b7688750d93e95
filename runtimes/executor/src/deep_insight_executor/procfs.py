"""Small reads of /proc about worker processes: their memory and their descendants.

Read with ``os.open``/``os.read``: these files are a few bytes, and the server reads a dozen of them after
every call (one per kernel thread) and every watchdog pass; Python's buffered text files cost about twice
as much per read.
"""

from __future__ import annotations

import os

PAGE = os.sysconf("SC_PAGE_SIZE")
_READ = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)


def read_small(path: str, size: int = 4096) -> bytes:
    """The first ``size`` bytes of ``path``. Raises OSError, as ``open`` would."""
    handle = os.open(path, _READ)
    try:
        return os.read(handle, size)
    finally:
        os.close(handle)


def resident_bytes(pid: int) -> int:
    """``pid``'s resident set in bytes (0 if it is gone)."""
    try:
        return int(read_small(f"/proc/{pid}/statm").split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _threads(pid: int) -> list[str] | None:
    """``pid``'s thread ids, or None if /proc cannot tell (gone, or not Linux)."""
    try:
        return os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None


def children(pid: int) -> list[int]:
    """``pid``'s child processes: a child belongs to the thread that forked it, so every thread is read."""
    found: list[int] = []
    for task in _threads(pid) or ():
        try:
            listing = read_small(f"/proc/{pid}/task/{task}/children", 1 << 16)
        except OSError:
            continue
        found.extend(int(child) for child in listing.split())
    return found


def has_children(pid: int) -> bool:
    """Whether ``pid`` has a child process; True when /proc cannot tell, so that callers look closer."""
    tasks = _threads(pid)
    if tasks is None:
        return True
    for task in tasks:
        try:
            if read_small(f"/proc/{pid}/task/{task}/children", 1).strip():
                return True
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        except OSError:
            return True
    return False


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    pids, index = [pid], 0
    while index < len(pids):
        pids.extend(children(pids[index]))
        index += 1
    return pids
