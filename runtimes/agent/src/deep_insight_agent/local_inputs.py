"""``file://`` inputs (a runtime without a bucket: local runs): only files under a data folder its starter
chose, read without following a symbolic link anywhere below that folder.

The payload names the path, and whoever reaches the app names the payload: without a folder, ``file://``
would copy any file the agent's user can read (``/etc/shadow`` when that is root) into a workspace that the
model's code reads and may send on. The folder itself may be reached through links (the starter chose it);
everything under it is opened one name at a time from the folder's descriptor with ``O_NOFOLLOW``, so a
link placed inside, or swapped in after the check, leads nowhere.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from deep_insight_agent.config import DATA_DIR_FLAG


class InputFileError(ValueError):
    """A ``file://`` input that is not taken or cannot be read; the message is one line."""


def local_input(uri: str, data_dirs: tuple[Path, ...]) -> tuple[Path, PurePosixPath]:
    """(the data folder, the path under it) of a ``file://`` URI, or InputFileError saying why not."""
    parsed = urlparse(uri)
    path = unquote(parsed.path)
    if parsed.netloc not in ("", "localhost") or not path.startswith("/") or parsed.query or parsed.fragment:
        raise InputFileError(f"data entry {uri!r} is not a file:///absolute/path URI")
    if not data_dirs:
        raise InputFileError(
            f"data entry {uri!r} is a local file, and this agent takes none; start it with {DATA_DIR_FLAG} DIR"
            " to take files under DIR"
        )
    target = PurePosixPath(path)
    if "\0" in path or ".." in target.parts:
        raise InputFileError(f"data entry {uri!r} names its file through '..'; give the file's own path")
    for folder in data_dirs:
        # The folder as given and as resolved: a URI may name it either way (e.g. /tmp and /private/tmp).
        for base in dict.fromkeys((PurePosixPath(os.path.abspath(folder)), PurePosixPath(folder.resolve()))):
            if target != base and target.is_relative_to(base):
                return folder, target.relative_to(base)
    folders = ", ".join(str(folder) for folder in data_dirs)
    raise InputFileError(
        f"data entry {uri!r} is outside the data folder {folders}; put the file there, or start the agent with"
        f" {DATA_DIR_FLAG} naming its folder"
    )


def read_local_input(uri: str, data_dirs: tuple[Path, ...]) -> tuple[str, bytes]:
    """The file's name and bytes: a regular file under one of ``data_dirs``, no link followed below it."""
    folder, relative = local_input(uri, data_dirs)
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as error:
        raise InputFileError(f"data entry {uri}: cannot open the data folder {folder}: {error.strerror}") from None
    try:
        for part in relative.parts[:-1]:
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = inner
        # O_NONBLOCK: a FIFO put there must not hang the job at open (it is refused below).
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        with os.fdopen(os.open(relative.name, flags, dir_fd=fd), "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise InputFileError(f"data entry {uri} is not a regular file")
            return relative.name, handle.read()
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise InputFileError(
                f"data entry {uri} is a symbolic link, and links under the data folder {folder} are not followed;"
                " copy the file itself into the folder"
            ) from None
        if error.errno == errno.ENOTDIR:
            raise InputFileError(
                f"data entry {uri}: a part of its path under {folder} is a symbolic link or not a folder"
                " (links there are not followed); copy the file itself into the folder"
            ) from None
        raise InputFileError(f"data entry {uri}: cannot read it: {error.strerror or error}") from None
    finally:
        os.close(fd)
