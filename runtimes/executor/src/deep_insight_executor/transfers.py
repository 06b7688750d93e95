"""Move a session's files between its workspace and S3 through presigned URLs (SPEC §6 sync).

The agent signs one URL per file, for its own session's keys, with its own role; the executor holds no
cloud credentials and makes no AWS call: it GETs each download URL into the workspace and PUTs each
workspace file to its upload URL. A URL is never logged or echoed (its query is the signature).
"""

from __future__ import annotations

import contextlib
import errno
import mimetypes
import os
import stat
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from deep_insight_contract.environment import ExecutorEnv
from deep_insight_contract.executor import SyncResult, Transfer

from deep_insight_executor.paths import PathError, resolve_inside

TRANSFER_THREADS = 8
TIMEOUT_SECONDS = 60.0
ATTEMPTS = 3
CHUNK = 1024 * 1024


class SyncError(ValueError):
    """A sync that cannot be honoured: 400 for a bad path, 413 past the session's disk quota, 502 when S3
    refused or failed a transfer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _no_redirects() -> urllib.request.OpenerDirector:
    """An opener that follows no redirect (a presigned URL answers where it is, or fails) and ignores
    proxy settings from the environment."""

    class Refuse(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    return urllib.request.build_opener(Refuse, urllib.request.ProxyHandler({}))


_OPENER = _no_redirects()


def _send(request: urllib.request.Request, path: str) -> Any:
    try:
        return _OPENER.open(request, timeout=TIMEOUT_SECONDS)
    except urllib.error.HTTPError as error:
        status = error.code
        error.close()
        raise SyncError(f"{request.get_method()} of {path!r} was refused by S3: HTTP {status}", status=502) from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise _Retry(f"{request.get_method()} of {path!r} failed: {type(error).__name__}") from None


class _Retry(Exception):
    """A connection-level failure: the transfer may be repeated."""


def _with_retries(action: Callable[[], int], path: str) -> int:
    last = ""
    for _ in range(ATTEMPTS):
        try:
            return action()
        except _Retry as error:
            last = str(error)
    raise SyncError(f"{last} ({ATTEMPTS} attempts)", status=502)


class _Room:
    """The bytes the downloads of one sync may still write, shared by its threads."""

    def __init__(self, left: int | None) -> None:
        self.left = left
        self._lock = threading.Lock()

    def take(self, size: int, path: str) -> None:
        if self.left is None:
            return
        with self._lock:
            self.left -= size
            if self.left < 0:
                raise SyncError(
                    f"downloading {path!r} would take the session over its disk quota "
                    f"({ExecutorEnv.MAX_WORKSPACE_MB}); delete files of the workspace or download fewer",
                    status=413,
                )

    def give(self, size: int) -> None:
        if self.left is not None:
            with self._lock:
                self.left += size


def _replaced_bytes(path: Path) -> int:
    """What an existing file at ``path`` takes on disk (freed when a download replaces it)."""
    try:
        info = os.lstat(path)
    except OSError:
        return 0
    return info.st_blocks * 512 if stat.S_ISREG(info.st_mode) and info.st_nlink == 1 else 0


def download(
    files: tuple[Transfer, ...], workspace: Path, owner: tuple[int, int] | None = None, room: int | None = None
) -> SyncResult:
    """GET each URL into its workspace path (parent folders made; an existing file replaced), writing at most
    ``room`` bytes beyond the files replaced (the session's disk quota): 413 past it."""
    planned: list[tuple[Transfer, Path]] = []
    for transfer in files:
        try:
            planned.append((transfer, resolve_inside(workspace, transfer.path)))
        except PathError as error:
            raise SyncError(f"{transfer.path!r} would land outside the workspace: {error}") from None
    root = Path(os.path.realpath(workspace))
    replaced = sum(_replaced_bytes(path) for path in {path for _, path in planned})
    budget = _Room(None if room is None else room + replaced)

    def fetch(item: tuple[Transfer, Path]) -> int:
        transfer, destination = item
        destination.parent.mkdir(parents=True, exist_ok=True)
        if destination.is_dir():
            raise SyncError(f"{transfer.path!r} is a directory")

        def attempt() -> int:
            handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=".download-")
            taken = 0
            try:
                with os.fdopen(handle, "wb") as sink, _send(urllib.request.Request(transfer.url), transfer.path) as got:
                    declared = got.headers.get("Content-Length", "")
                    if declared.isdigit():
                        budget.take(int(declared), transfer.path)
                        taken = int(declared)
                    while chunk := got.read(CHUNK):
                        sink.write(chunk)
                        if sink.tell() > taken:
                            budget.take(sink.tell() - taken, transfer.path)
                            taken = sink.tell()
                    written = sink.tell()
                os.replace(temporary, destination)
                return written
            except BaseException:
                budget.give(taken)
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise

        try:
            written = _with_retries(attempt, transfer.path)
        except OSError as error:
            if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                full = "the executor's disk is full; delete files of this session and try again"
                raise SyncError(full, status=507) from None
            raise
        if owner is not None:
            for path in [destination, *[p for p in destination.parents if root in p.parents]]:
                with contextlib.suppress(OSError):
                    os.chown(path, *owner)
        return written

    with ThreadPoolExecutor(TRANSFER_THREADS) as pool:
        total = sum(pool.map(fetch, planned))
    return SyncResult(files=len(planned), bytes=total)


def upload(files: tuple[Transfer, ...], workspace: Path) -> SyncResult:
    """PUT each workspace file to its URL, with a Content-Type guessed from its name. Only regular files
    inside the workspace leave it (a symlink's final component is not followed)."""
    planned: list[tuple[Transfer, Path]] = []
    for transfer in files:
        source = resolve_inside(workspace, transfer.path)
        if not source.is_file():
            raise SyncError(f"{transfer.path!r} is not a file of the workspace")
        planned.append((transfer, source))

    def send(item: tuple[Transfer, Path]) -> int:
        transfer, source = item
        content_type = mimetypes.guess_type(source.name)[0] or "application/octet-stream"

        def attempt() -> int:
            descriptor = os.open(source, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(descriptor, "rb") as body:
                size = os.fstat(body.fileno()).st_size
                request = urllib.request.Request(
                    transfer.url,
                    data=body,
                    method="PUT",
                    headers={"Content-Type": content_type, "Content-Length": str(size)},
                )
                with _send(request, transfer.path):
                    return size

        return _with_retries(attempt, transfer.path)

    with ThreadPoolExecutor(TRANSFER_THREADS) as pool:
        total = sum(pool.map(send, planned))
    return SyncResult(files=len(planned), bytes=total)
