"""Paths from callers, confined to a session's workspace, opened one folder at a time.

A path is checked and used in one step: each folder on the way is opened with ``O_NOFOLLOW`` relative to the
one before, starting from the workspace (whose own entry only the server can change), and the file itself
is opened, created or renamed relative to its folder's descriptor. A symlink anywhere on the way is refused,
and so is one that user code swaps in while the server works (its kernel's threads outlive every call): a
root server never writes, chowns or reads anything outside the session's own folders. (Checking the real
path first and using the path afterwards is not enough: the folder can be swapped in between.)
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # NONBLOCK: a FIFO must not hang the server
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_SYMLINK_OR_FILE = (errno.ELOOP, errno.ENOTDIR)

Owner = tuple[int, int] | None


class PathError(ValueError):
    """A path that would leave the workspace, or is not a file where one is needed (400)."""


class PathChanged(PathError):
    """The folder of a file being written was moved or removed meanwhile, by the session's own code (409)."""

    def __init__(self, relative: str) -> None:
        super().__init__(f"{relative!r}: its folder was moved or removed while the file was written; try again")


def parts(relative: str) -> list[str]:
    """The components of ``relative``; PathError if it is empty, absolute or uses ``..``."""
    if not relative or relative.strip() in ("", "."):
        raise PathError("empty path; give a path relative to the session workspace")
    if "\x00" in relative:
        raise PathError("path contains a NUL byte")
    pure = PurePosixPath(relative)
    if pure.is_absolute() or relative.startswith("\\"):
        raise PathError(f"{relative!r} is absolute; give a path relative to the session workspace")
    if any(part == ".." for part in pure.parts):
        raise PathError(f"{relative!r} contains '..'; paths must stay inside the session workspace")
    found = [part for part in pure.parts if part != "."]
    if not found:
        raise PathError("empty path; give a path relative to the session workspace")
    return found


def _leads_out(relative: str) -> PathError:
    return PathError(f"{relative!r} leads outside the session workspace (through a symlink) or through a file")


def open_folder(workspace: Path, names: list[str], relative: str, *, create: bool = False, owner: Owner = None) -> int:
    """A descriptor of the folder ``names`` inside ``workspace``, made (and given to ``owner``) where missing
    if ``create``. The caller closes it. FileNotFoundError when a folder is missing and not to be made."""
    folder = os.open(workspace, _FOLDER)
    try:
        for name in names:
            try:
                child = os.open(name, _FOLDER, dir_fd=folder)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o755, dir_fd=folder)
                child = os.open(name, _FOLDER, dir_fd=folder)
                if owner is not None and os.fstat(child).st_uid != owner[0]:
                    os.fchown(child, *owner)
            os.close(folder)
            folder = child
    except OSError as error:
        os.close(folder)
        if error.errno in _SYMLINK_OR_FILE:
            raise _leads_out(relative) from None
        raise
    return folder


def open_file(workspace: Path, relative: str) -> int:
    """A descriptor of the regular file ``relative`` for reading; FileNotFoundError if there is none (a
    folder counts as none), PathError if the way there has a symlink."""
    *folders, name = parts(relative)
    folder = open_folder(workspace, folders, relative)
    try:
        handle = os.open(name, _READ, dir_fd=folder)
    except OSError as error:
        if error.errno in _SYMLINK_OR_FILE:
            raise _leads_out(relative) from None
        raise
    finally:
        os.close(folder)
    info = os.fstat(handle)
    if not stat.S_ISREG(info.st_mode):
        os.close(handle)
        raise FileNotFoundError(errno.ENOENT, f"{relative!r} is not a file")
    os.set_blocking(handle, True)
    return handle


def existing_bytes(workspace: Path, relative: str) -> int:
    """What the regular file at ``relative`` takes on disk now (freed when it is replaced); 0 if none."""
    try:
        *folders, name = parts(relative)
        folder = open_folder(workspace, folders, relative)
    except (OSError, PathError):
        return 0
    try:
        info = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except OSError:
        return 0
    finally:
        os.close(folder)
    return info.st_blocks * 512 if stat.S_ISREG(info.st_mode) and info.st_nlink == 1 else 0


@contextlib.contextmanager
def replacing(workspace: Path, relative: str, owner: Owner = None, *, prefix: str = ".upload-") -> Iterator[BinaryIO]:
    """A new file to write ``relative``'s content into: beside it, made in its folder's descriptor and given
    to ``owner``, then renamed over it when the block ends without error (else removed). Missing folders
    are made. PathError for a path through a symlink, or onto a folder."""
    *folders, name = parts(relative)
    folder = open_folder(workspace, folders, relative, create=True, owner=owner)
    try:
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISDIR(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode):
                raise PathError(f"{relative!r} is a directory")
        temporary = f"{prefix}{secrets.token_hex(8)}"
        try:
            handle = os.open(temporary, _CREATE, 0o600, dir_fd=folder)
        except FileNotFoundError:  # the folder this descriptor holds is no longer linked anywhere
            raise PathChanged(relative) from None
        try:
            if owner is not None:
                os.fchown(handle, *owner)
            with os.fdopen(handle, "wb") as sink:
                handle = -1
                yield sink
            try:
                os.rename(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
            except FileNotFoundError:
                raise PathChanged(relative) from None
        except BaseException:
            if handle >= 0:
                os.close(handle)
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=folder)
            raise
    except IsADirectoryError:
        raise PathError(f"{relative!r} is a directory") from None
    finally:
        os.close(folder)
