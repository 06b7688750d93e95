"""Paths from callers, confined to a session's workspace."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath


class PathError(ValueError):
    """A path that would leave the workspace (400)."""


def resolve_inside(workspace: Path, relative: str) -> Path:
    """The real path of ``relative`` inside ``workspace``; PathError if it is absolute, uses ``..``,
    or leads (through any symlink, including ones user code made) outside the workspace."""
    if not relative or relative.strip() in ("", "."):
        raise PathError("empty path; give a path relative to the session workspace")
    if "\x00" in relative:
        raise PathError("path contains a NUL byte")
    pure = PurePosixPath(relative)
    if pure.is_absolute() or relative.startswith("\\"):
        raise PathError(f"{relative!r} is absolute; give a path relative to the session workspace")
    if any(part == ".." for part in pure.parts):
        raise PathError(f"{relative!r} contains '..'; paths must stay inside the session workspace")
    root = Path(os.path.realpath(workspace))
    candidate = Path(os.path.realpath(root / pure))
    if candidate != root and root not in candidate.parents:
        raise PathError(f"{relative!r} leads outside the session workspace")
    return candidate
