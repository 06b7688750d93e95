"""What a build of a Dockerfile sends: the files its ignore file lets through, and their digest.

Shared by both ways of building an image: the local build tags with `context_digest`, the CodeBuild build
archives `context_files` (components.build_archive).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from components import dockerignore


def ignore_file(context: Path, dockerfile: Path) -> Path | None:
    """The ignore file a build uses: ``<Dockerfile>.dockerignore`` if present, else ``.dockerignore``."""
    for candidate in (dockerfile.with_name(dockerfile.name + ".dockerignore"), context / ".dockerignore"):
        if candidate.is_file():
            return candidate
    return None


def context_files(context: Path, dockerfile: Path) -> list[str]:
    """The files (relative to ``context``) that a build of ``dockerfile`` sends: what its ignore file
    lets through, plus the Dockerfile and the ignore file themselves (Docker always sends those)."""
    ignore = ignore_file(context, dockerfile)
    patterns = dockerignore.parse(ignore.read_text(encoding="utf-8")) if ignore else []
    # absolute, not resolved: a context may reach its inputs through symlinks (Docker sends them as found)
    always = {path.absolute().relative_to(context.absolute()).as_posix() for path in (dockerfile, ignore) if path}
    return sorted(set(dockerignore.included_files(context, patterns)) | always)


def context_digest(context: Path, dockerfile: Path) -> str:
    """SHA-256 over the relative paths and contents of every file a build of ``dockerfile`` sends."""
    digest = hashlib.sha256()
    for relative in context_files(context, dockerfile):
        digest.update(relative.encode() + b"\0" + (context / relative).read_bytes() + b"\0")
    return digest.hexdigest()
