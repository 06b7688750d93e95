"""A session's files as the disk sees them: found and removed through directory descriptors.

Every step opens the next folder with ``O_NOFOLLOW`` relative to the one before, so a symlink that user code
puts in place of a folder (even while we walk: a kernel's threads outlive its call) leads nowhere; the server
may be root, and must never count or remove a file outside the session's folders.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_DEPTH = 128
"""Deeper folders are not walked: one descriptor is open per level."""

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class FileInfo:
    path: str
    """Relative to the folder it was found under, with ``/``."""
    inode: tuple[int, int]
    """(device, inode): hard links count once."""
    allocated: int
    """Bytes the file takes on disk (``st_blocks * 512``): a sparse file counts what it really uses."""
    mtime: float
    links: int
    size: int = 0
    """The file's length in bytes (``st_size``)."""
    uid: int = -1


def _entries(folder: int, prefix: str, depth: int) -> Iterator[FileInfo]:
    try:
        listing = list(os.scandir(folder))
    except OSError:
        return
    for entry in listing:
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            yield FileInfo(
                prefix + entry.name,
                (info.st_dev, info.st_ino),
                info.st_blocks * 512,
                info.st_mtime,
                info.st_nlink,
                info.st_size,
                info.st_uid,
            )
        elif stat.S_ISDIR(info.st_mode) and depth < MAX_DEPTH:
            try:
                child = os.open(entry.name, _DIRECTORY, dir_fd=folder)
            except OSError:
                continue
            try:
                yield from _entries(child, f"{prefix}{entry.name}/", depth + 1)
            finally:
                os.close(child)


def scan(root: Path) -> list[FileInfo]:
    """The regular files under ``root`` (none if it does not exist), symlinks not followed."""
    try:
        folder = os.open(root, _DIRECTORY)
    except OSError:
        return []
    try:
        return list(_entries(folder, "", 0))
    finally:
        os.close(folder)


def allocated(files: list[FileInfo]) -> int:
    """The bytes ``files`` take on disk, each (device, inode) once."""
    return sum({file.inode: file.allocated for file in files}.values())


def remove(root: Path, file: FileInfo) -> bool:
    """Delete ``file`` (found by ``scan(root)``) if it is still the same inode; whether it was.

    An only link is truncated first: a process that still holds it open would otherwise keep its blocks.
    """
    *folders, name = file.path.split("/")
    opened: list[int] = []
    try:
        opened.append(os.open(root, _DIRECTORY))
        for part in folders:
            opened.append(os.open(part, _DIRECTORY, dir_fd=opened[-1]))
        here = opened[-1]
        info = os.stat(name, dir_fd=here, follow_symlinks=False)
        if not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) != file.inode:
            return False
        if info.st_nlink == 1:
            with contextlib.suppress(OSError):
                handle = os.open(name, os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=here)
                try:
                    if os.fstat(handle).st_ino == info.st_ino:
                        os.ftruncate(handle, 0)
                finally:
                    os.close(handle)
        os.unlink(name, dir_fd=here)
        return True
    except OSError:
        return False
    finally:
        for handle in reversed(opened):
            os.close(handle)
