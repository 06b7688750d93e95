""".dockerignore semantics, as BuildKit and pulumi-docker apply them (moby/patternmatcher, ignorefile).

* one pattern a line; ``#`` starts a comment line; surrounding whitespace is dropped; a pattern is
  cleaned like a path (``./a//b/`` is ``a/b``) and a leading ``/`` is dropped;
* ``*`` matches within one path component, ``?`` one character of it, ``**`` any number of components
  (also none), ``[...]`` a character class, ``\\`` escapes the next character;
* a pattern matches a path when it matches the path itself or one of its parent folders, so ``*``
  excludes everything and ``!src`` brings back the whole ``src`` folder;
* the last pattern that matches decides: ``!pattern`` re-includes, any other excludes.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_REGEX_SPECIALS = frozenset(".+()|{}$^")


@dataclass(frozen=True)
class Pattern:
    text: str
    """The cleaned pattern, without its ``!``."""
    reinclude: bool
    regex: re.Pattern[str]


def _clean(pattern: str) -> str:
    cleaned = posixpath.normpath(pattern)
    return cleaned[1:] if len(cleaned) > 1 and cleaned.startswith("/") else cleaned


def _translate(pattern: str) -> re.Pattern[str]:
    """The regular expression moby/patternmatcher builds for a cleaned pattern."""
    out = ["^"]
    i = 0
    while i < len(pattern):
        char = pattern[i]
        i += 1
        if char == "*":
            if i < len(pattern) and pattern[i] == "*":
                i += 1
                if i < len(pattern) and pattern[i] == "/":
                    i += 1
                out.append(".*" if i == len(pattern) else "(.*/)?")
            else:
                out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\":
            if i < len(pattern):
                out.append(re.escape(pattern[i]))
                i += 1
            else:
                out.append(re.escape(char))
        elif char in _REGEX_SPECIALS:
            out.append("\\" + char)
        else:
            out.append(char)  # letters, '/', and '[', ']', '-', '!' of character classes
    out.append("$")
    return re.compile("".join(out), re.DOTALL)


def parse(text: str) -> list[Pattern]:
    patterns = []
    for raw in text.removeprefix("\ufeff").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        reinclude = line.startswith("!")
        if reinclude:
            line = line[1:].strip()
            if not line:
                continue
        cleaned = _clean(line)
        patterns.append(Pattern(cleaned, reinclude, _translate(cleaned)))
    return patterns


def _matches(pattern: Pattern, path: str) -> bool:
    if pattern.regex.match(path):
        return True
    parts = path.split("/")[:-1]
    return any(pattern.regex.match("/".join(parts[: i + 1])) for i in range(len(parts)))


def is_ignored(patterns: list[Pattern], path: str) -> bool:
    """Whether ``path`` (relative to the context, ``/``-separated) is left out of the build context."""
    ignored = False
    for pattern in patterns:
        if pattern.reinclude == ignored and _matches(pattern, path):
            ignored = not pattern.reinclude
    return ignored


def _may_reinclude_below(patterns: list[Pattern], folder: str) -> bool:
    """Whether some ``!`` pattern could match a path strictly inside ``folder`` (else skip the folder)."""
    depth = folder.split("/")
    for pattern in patterns:
        if not pattern.reinclude:
            continue
        if "**" in pattern.text:
            return True
        parts = pattern.text.split("/")
        if len(parts) > len(depth) and all(
            _translate(part).match(name) for part, name in zip(parts, depth, strict=False)
        ):
            return True
    return False


def included_files(root: Path, patterns: list[Pattern]) -> list[str]:
    """Every file under ``root`` the patterns let through, as sorted ``/``-separated relative paths."""
    return sorted(_walk(root, patterns))


def _walk(root: Path, patterns: list[Pattern]) -> Iterator[str]:
    for folder, subfolders, files in os.walk(root):
        relative = Path(folder).relative_to(root).as_posix()
        prefix = "" if relative == "." else relative + "/"
        kept = []
        for name in sorted(subfolders):
            path = prefix + name
            if os.path.islink(os.path.join(folder, name)):
                continue  # not followed, like Docker (a symlink would be sent as a link)
            if not is_ignored(patterns, path) or _may_reinclude_below(patterns, path):
                kept.append(name)
        subfolders[:] = kept
        yield from (prefix + name for name in sorted(files) if not is_ignored(patterns, prefix + name))
