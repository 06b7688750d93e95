"""Move a session's files between its workspace and S3 through presigned URLs (SPEC §6 sync).

The agent signs one URL per file, for its own session's keys, with its own role; the executor holds no
cloud credentials and makes no AWS call: it GETs each download URL into the workspace and PUTs each
workspace file to its upload URL. A URL is never logged or echoed (its query is the signature).
"""

from __future__ import annotations

import errno
import mimetypes
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from deep_insight_contract.environment import ExecutorEnv
from deep_insight_contract.executor import SyncResult, Transfer

from deep_insight_executor.paths import PathChanged, PathError, existing_bytes, open_file, parts, replacing

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


def download(
    files: tuple[Transfer, ...], workspace: Path, owner: tuple[int, int] | None = None, room: int | None = None
) -> SyncResult:
    """GET each URL into its workspace path (parent folders made; an existing file replaced), writing at most
    ``room`` bytes beyond the files replaced (the session's disk quota): 413 past it. Each file is written
    through its folder's descriptor (paths.replacing): a symlink on the way is refused, never followed."""
    for transfer in files:
        try:
            parts(transfer.path)
        except PathError as error:
            raise SyncError(f"{transfer.path!r} would land outside the workspace: {error}") from None
    replaced = sum(existing_bytes(workspace, path) for path in {transfer.path for transfer in files})
    budget = _Room(None if room is None else room + replaced)

    def fetch(transfer: Transfer) -> int:
        def attempt() -> int:
            taken = 0
            try:
                with (
                    replacing(workspace, transfer.path, owner, prefix=".download-") as sink,
                    _send(urllib.request.Request(transfer.url), transfer.path) as got,
                ):
                    declared = got.headers.get("Content-Length", "")
                    if declared.isdigit():
                        budget.take(int(declared), transfer.path)
                        taken = int(declared)
                    while chunk := got.read(CHUNK):
                        sink.write(chunk)
                        if sink.tell() > taken:
                            budget.take(sink.tell() - taken, transfer.path)
                            taken = sink.tell()
                    return sink.tell()
            except PathChanged as error:
                raise SyncError(str(error), status=409) from None
            except PathError as error:
                raise SyncError(str(error)) from None
            except BaseException:
                budget.give(taken)
                raise

        try:
            return _with_retries(attempt, transfer.path)
        except OSError as error:
            if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                full = "the executor's disk is full; delete files of this session and try again"
                raise SyncError(full, status=507) from None
            raise

    with ThreadPoolExecutor(TRANSFER_THREADS) as pool:
        total = sum(pool.map(fetch, files))
    return SyncResult(files=len(files), bytes=total)


def upload(files: tuple[Transfer, ...], workspace: Path) -> SyncResult:
    """PUT each workspace file to its URL, with a Content-Type guessed from its name. Only regular files
    inside the workspace leave it, opened through their folders' descriptors (no symlink on the way)."""
    for transfer in files:
        try:
            os.close(open_file(workspace, transfer.path))
        except (FileNotFoundError, PathError):
            raise SyncError(f"{transfer.path!r} is not a file of the workspace") from None

    def send(transfer: Transfer) -> int:
        content_type = mimetypes.guess_type(transfer.path)[0] or "application/octet-stream"

        def attempt() -> int:
            try:
                descriptor = open_file(workspace, transfer.path)
            except (FileNotFoundError, PathError):
                raise SyncError(f"{transfer.path!r} is not a file of the workspace") from None
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
        total = sum(pool.map(send, files))
    return SyncResult(files=len(files), bytes=total)
