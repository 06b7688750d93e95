"""A build context as a deterministic archive: the same source gives the same bytes, on any machine.

For building images remotely (issue 14: CodeBuild), the context goes to S3 as one ``.tar.gz`` whose hash
decides whether a build runs and names the image's tag. So nothing of the machine may reach the bytes:
entries are sorted, every mtime is 0, owners are 0/root-less, modes are 0644 (0755 when the file is
executable by its owner), symlinks are stored as the files they point to (Docker sends a context's files
as found), and the gzip header carries no name and no time.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path

from components.image import context_files

FILE_MODE, EXECUTABLE_MODE = 0o644, 0o755


@dataclass(frozen=True)
class Archive:
    content: bytes
    files: tuple[str, ...]
    """The archived paths, relative to the context, in archive order."""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def _entry(name: str, size: int, executable: bool) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = EXECUTABLE_MODE if executable else FILE_MODE
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def build_archive(context: Path, dockerfile: Path) -> Archive:
    """The files a build of ``dockerfile`` sends from ``context`` (components.image.context_files)."""
    files = tuple(sorted(context_files(context, dockerfile)))
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for relative in files:
            path = context / relative
            data = path.read_bytes()
            executable = bool(path.stat().st_mode & stat.S_IXUSR)
            tar.addfile(_entry(relative, len(data), executable), io.BytesIO(data))
    compressed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0, compresslevel=9) as stream:
        stream.write(tar_bytes.getvalue())
    return Archive(compressed.getvalue(), files)
