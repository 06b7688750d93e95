"""/dev/shm: a session's shared-memory files count in its disk quota and end with it.

POSIX shared memory (``shm_open``, Python's ``multiprocessing.shared_memory`` and semaphores) always lives
in /dev/shm, a tmpfs every process may write and whose pages are the task's memory: without this, a session
could fill it past every limit and leave it full after its DELETE. Whose a file there is: as root, a session's
files are its uid's (the inode's owner: a hard link to another's file keeps that owner). A non-root server
shares its uid with its sessions, so every file of that uid that was not there when the server started is
theirs (the server itself makes none).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from deep_insight_executor.disktree import FileInfo, remove, scan

SHM = Path("/dev/shm")


@dataclass(frozen=True)
class SharedMemory:
    root: Path
    uid: int
    before: frozenset[tuple[int, int]] = frozenset()
    """Files (device, inode) that were there before: not the sessions'."""

    @classmethod
    def of_server(cls, root: Path = SHM) -> SharedMemory | None:
        """The non-root server's view: its uid's files, less those present now. None without /dev/shm."""
        if not root.is_dir():
            return None
        uid = os.geteuid()
        return cls(root, uid, frozenset(info.inode for info in scan(root) if info.uid == uid))

    def for_uid(self, uid: int) -> SharedMemory:
        """A root server's session with its own uid: all of that uid's files are the session's."""
        return SharedMemory(self.root, uid)

    def files(self) -> list[FileInfo]:
        return [info for info in scan(self.root) if info.uid == self.uid and info.inode not in self.before]

    def remove_all(self) -> int:
        """Remove every file of the session (found again, by inode); how many."""
        return sum(remove(self.root, info) for info in self.files())
