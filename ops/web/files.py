"""How the console hands out a job's files, all of them written by a model's code: only an image whose bytes
say so is shown inline (typed from those bytes, never from its name); anything else is a download that a
browser may neither sniff nor run, wherever it is opened."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from starlette.responses import Response, StreamingResponse

NOSNIFF = {"X-Content-Type-Options": "nosniff"}
"""On every answer of the console: a browser takes the type it is given and guesses none."""
CSP = "Content-Security-Policy"
FILE_POLICY = "default-src 'none'; sandbox"
"""A job's file opened on its own runs no script and loads nothing, on an origin of its own."""
CHUNK = 256 * 1024
SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
"""Raster formats a browser decodes as pictures and nothing else (SVG, a document that runs script, is not one)."""


def image_type(head: bytes) -> str | None:
    """The image type the file's first bytes prove, or None."""
    for magic, media_type in SIGNATURES:
        if head.startswith(magic):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def file_response(path: Path) -> Response:
    """``path`` as an inline image or as an attachment, typed from the bytes it is sent from.

    The file is opened once and both checked and sent from that handle: a job still running can replace
    a chart between the two, and the name must not then vouch for new bytes."""
    handle = path.open("rb")
    try:
        size = os.fstat(handle.fileno()).st_size
        media_type = image_type(handle.read(16))
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    headers = {**NOSNIFF, CSP: FILE_POLICY, "Content-Length": str(size), "Cache-Control": "no-store"}
    if media_type is None:
        media_type = "application/octet-stream"
        headers["Content-Disposition"] = attachment(path.name)
    return StreamingResponse(_chunks(handle), media_type=media_type, headers=headers)


def attachment(name: str) -> str:
    """A Content-Disposition that keeps the file's name (RFC 6266), whatever characters it holds."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    """Read in Starlette's thread pool (a plain iterator), as its FileResponse reads."""
    with handle:
        while chunk := handle.read(CHUNK):
            yield chunk
