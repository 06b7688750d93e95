"""A build context as a deterministic ZIP archive: the same source gives the same bytes, on any machine.

For building images remotely (CodeBuild), the context goes to S3 as one archive whose hash decides whether
a build runs and names the image's tag. It is a ZIP because CodeBuild's S3 source is "the path to the ZIP
file that contains the source code" (ProjectSource.location in its API reference; no tar). So nothing of
the machine may reach the bytes: entries are sorted, every timestamp is ZIP's earliest (1980-01-01), the
creator is Unix with modes 0644 (0755 when the file is executable by its owner) and no owner, no extra
fields, and symlinks are stored as the files they point to (Docker sends a context's files as found).
"""

from __future__ import annotations

import hashlib
import io
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from components.build_context import context_files

FILE_MODE, EXECUTABLE_MODE = 0o644, 0o755
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
"""The earliest time a ZIP entry can carry (its DOS date starts in 1980)."""
UNIX = 3
"""``create_system`` 3: the upper 16 bits of ``external_attr`` are a Unix mode (APPNOTE 4.4.2)."""


@dataclass(frozen=True)
class Archive:
    content: bytes
    files: tuple[str, ...]
    """The archived paths, relative to the context, in archive order."""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def _entry(name: str, executable: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.create_system = UNIX
    info.external_attr = (stat.S_IFREG | (EXECUTABLE_MODE if executable else FILE_MODE)) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def build_archive(context: Path, dockerfile: Path) -> Archive:
    """The files a build of ``dockerfile`` sends from ``context`` (components.build_context.context_files)."""
    files = tuple(sorted(context_files(context, dockerfile)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, mode="w") as archive:
        for relative in files:
            path = context / relative
            executable = bool(path.stat().st_mode & stat.S_IXUSR)
            archive.writestr(_entry(relative, executable), path.read_bytes(), compresslevel=9)
    return Archive(buffer.getvalue(), files)
