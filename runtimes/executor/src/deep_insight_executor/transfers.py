"""Move a session's files between its workspace and S3 through presigned URLs (SPEC §6 sync).

The agent signs one URL per file, for its own session's keys, with its own role; the executor holds no
cloud credentials and makes no AWS call: it GETs each download URL into the workspace and PUTs each
workspace file to its upload URL. A URL is never logged or echoed (its query is the signature).
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from deep_insight_contract.executor import SyncResult, Transfer

from deep_insight_executor.paths import PathError, resolve_inside

TRANSFER_THREADS = 8
TIMEOUT_SECONDS = 60.0
ATTEMPTS = 3
CHUNK = 1024 * 1024


class SyncError(ValueError):
    """A sync that cannot be honoured: 400 for a bad path, 502 when S3 refused or failed a transfer."""

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


def download(files: tuple[Transfer, ...], workspace: Path, owner: tuple[int, int] | None = None) -> SyncResult:
    """GET each URL into its workspace path (parent folders made; an existing file replaced)."""
    planned: list[tuple[Transfer, Path]] = []
    for transfer in files:
        try:
            planned.append((transfer, resolve_inside(workspace, transfer.path)))
        except PathError as error:
            raise SyncError(f"{transfer.path!r} would land outside the workspace: {error}") from None
    root = Path(os.path.realpath(workspace))

    def fetch(item: tuple[Transfer, Path]) -> int:
        transfer, destination = item
        destination.parent.mkdir(parents=True, exist_ok=True)
        if destination.is_dir():
            raise SyncError(f"{transfer.path!r} is a directory")

        def attempt() -> int:
            handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=".download-")
            try:
                with os.fdopen(handle, "wb") as sink, _send(urllib.request.Request(transfer.url), transfer.path) as got:
                    shutil.copyfileobj(got, sink, CHUNK)
                    written = sink.tell()
                os.replace(temporary, destination)
                return written
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise

        written = _with_retries(attempt, transfer.path)
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
