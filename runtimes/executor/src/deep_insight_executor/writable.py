"""Start-up check that the folders the executor writes can really be written.

On Fargate the only writable paths are the task's bind mounts (/workspace, /tmp); a mount the image does
not declare as ``VOLUME`` is root:root 0755, so the executor's uid 10001 could write nothing and every
call would fail. Mode bits do not tell (ACLs, read-only mounts, user namespaces): each check creates and
deletes a file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from deep_insight_contract.environment import ExecutorEnv
from deep_insight_contract.executor import EXIT_UNWRITABLE

__all__ = ["EXIT_UNWRITABLE", "Folder", "Unwritable", "first_unwritable", "first_unwritable_as"]


@dataclass(frozen=True)
class Folder:
    """A folder to check: ``setting`` is the variable that chose it, ``probe`` where to try a file."""

    path: Path
    setting: str
    probe: Path | None = None


@dataclass(frozen=True)
class Unwritable:
    folder: Folder
    uid: int
    error: str
    session_uid: bool = False
    """The uid is a session's (the server is root and runs each session's code as its own uid)."""

    def message(self) -> str:
        path, setting, uid = self.folder.path, self.folder.setting, self.uid
        if self.session_uid:
            fix = (
                f"sessions run as their own uids when the server is root: make {path} writable by every uid "
                f"(mode 1777) and the folders above it searchable (o+x), or run the server as a non-root user"
            )
        else:
            where = f"{setting} (or --workdir)" if setting == ExecutorEnv.WORKDIR else setting
            fix = (
                f"give {path} to uid {uid} (or mode 1777), or point {where} at a writable folder; in the image, "
                f"chown/chmod it and declare it in VOLUME (a Fargate bind mount the image does not declare as a "
                f"VOLUME is root:root 0755)"
            )
        return f"{setting}={path} is not writable by uid {uid} ({self.error}); the executor cannot serve. Fix: {fix}"


def developer_workdir() -> Path:
    """Where a non-root developer's sessions go when no workdir is chosen and /workspace cannot be written."""
    return temp_dir() / f"deep-insight-executor-{os.getuid()}"


def temp_dir() -> Path:
    """This process's temporary folder: ``$TMPDIR``, else /tmp (what ``tempfile`` tries first).

    Not ``tempfile.gettempdir()``: that silently moves on to another folder, even the working
    directory, when the first cannot be written, which would hide the problem this module reports.
    """
    return Path(os.environ.get("TMPDIR") or "/tmp")


def try_write(folder: Path) -> str | None:
    """None if ``folder`` exists (or can be made) and a file can be created and deleted in it; else why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=folder, prefix=".write-check-")
        os.close(handle)
        os.unlink(name)
    except OSError as error:
        return f"{type(error).__name__}: {error.strerror or error}"
    return None


def first_unwritable(folders: Sequence[Folder]) -> Unwritable | None:
    """The first of ``folders`` this process cannot write."""
    for folder in folders:
        error = try_write(folder.probe or folder.path)
        if error is not None:
            return Unwritable(folder, os.geteuid(), error)
    return None


def first_unwritable_as(uid: int, gid: int, folders: Sequence[Folder]) -> Unwritable | None:
    """The first of ``folders`` that ``uid:gid`` cannot write, tried in a child that drops to it (root only)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no return from here
        status = 2
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            for index, folder in enumerate(folders):
                error = try_write(folder.probe or folder.path)
                if error is not None:
                    os.write(write_end, f"{index}\n{error}".encode())
                    status = 1
                    break
            else:
                status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        report = pipe.read().decode(errors="replace")
    _, wait_status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(wait_status)
    if code == 0:
        return None
    if code == 1 and "\n" in report:
        index, error = report.split("\n", 1)
        return Unwritable(folders[int(index)], uid, error, session_uid=True)
    return Unwritable(folders[0], uid, f"the check could not run as uid {uid} (exit {code})", session_uid=True)
