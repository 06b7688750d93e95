"""Reading our Dockerfiles as data, for the tests: stages, COPY sources, VOLUMEs, USER, and the owner and
mode the final image gives a path (from its ``mkdir``/``chown``/``chmod`` commands), plus what Fargate
makes of a bind mount at that path.

Deliberately small: it understands the instructions our Dockerfiles use and raises on what it cannot
model (a ``chown`` by name, a symbolic ``chmod`` of a VOLUME path), so a test fails rather than guesses.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT_DIRECTORY = (0, 0, 0o755)
"""What Docker creates for a missing VOLUME path, and what Fargate gives an undeclared bind mount."""


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def instructions(text: str) -> list[Instruction]:
    """Instructions in order, continuation lines joined, comments and parser directives dropped."""
    result: list[Instruction] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical = (pending + stripped).strip()
        pending = ""
        keyword, _, arguments = logical.partition(" ")
        result.append(Instruction(keyword.upper(), arguments.strip()))
    return result


def stages(text: str) -> list[list[Instruction]]:
    """The build stages, each starting with its FROM (instructions before the first FROM are dropped)."""
    result: list[list[Instruction]] = []
    for instruction in instructions(text):
        if instruction.keyword == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def _words(arguments: str) -> list[str]:
    """An instruction's arguments, JSON (exec) form or shell-like form."""
    if arguments.startswith("["):
        return list(json.loads(arguments))
    return shlex.split(arguments)


def copy_sources(stage: list[Instruction]) -> list[str]:
    """The build-context paths the stage's COPY/ADD instructions read (not ``--from=`` copies)."""
    sources: list[str] = []
    for instruction in stage:
        if instruction.keyword not in ("COPY", "ADD"):
            continue
        words = _words(instruction.arguments)
        flags = [w for w in words if w.startswith("--")]
        if any(flag.startswith("--from=") for flag in flags):
            continue
        paths = [w for w in words if not w.startswith("--")]
        sources.extend(paths[:-1])
    return sources


def volumes(stage: list[Instruction]) -> list[str]:
    return [path for i in stage if i.keyword == "VOLUME" for path in _words(i.arguments)]


def user(stage: list[Instruction]) -> str | None:
    users = [i.arguments for i in stage if i.keyword == "USER"]
    return users[-1] if users else None


def _commands(run: str) -> list[list[str]]:
    """A RUN line's simple commands (split at ``&&`` and ``;``)."""
    commands: list[list[str]] = [[]]
    for word in shlex.split(run):
        if word in ("&&", ";"):
            commands.append([])
        else:
            commands[-1].append(word)
    return [c for c in commands if c]


def owners_at_volume(stage: list[Instruction]) -> dict[str, tuple[int, int, int]]:
    """(uid, gid, mode) of each VOLUME path as the image holds it when the VOLUME is declared.

    Modelled from the stage's ``mkdir``, ``chown UID:GID`` and ``chmod OCTAL`` commands before the VOLUME
    (one after it is refused: the legacy builder discards it, BuildKit keeps it); a path they do not
    touch counts as root:root 0755 (conservative: it is what Docker creates).
    """
    state: dict[str, tuple[int, int, int] | str] = {}  # a str: why the owner is unknown
    declared: dict[str, tuple[int, int, int]] = {}
    for instruction in stage:
        if instruction.keyword == "VOLUME":
            for path in _words(instruction.arguments):
                owner = state.get(path, ROOT_DIRECTORY)
                if isinstance(owner, str):
                    raise ValueError(f"VOLUME {path}: {owner}")
                declared[path] = owner
        if instruction.keyword != "RUN":
            continue
        for command, *args in _commands(instruction.arguments):
            operands = [a for a in args if not a.startswith("-")]
            late = [path for path in operands if path in declared and command in ("chown", "chmod")]
            if late:
                # The legacy builder discards such a change, BuildKit keeps it: make it before the VOLUME.
                raise ValueError(f"{command} of {late} after its VOLUME: the result depends on the builder")
            if command == "mkdir":
                for path in operands:
                    state.setdefault(path, ROOT_DIRECTORY)
            elif command == "chown":
                owner, *paths = operands
                match = re.fullmatch(r"(\d+):(\d+)", owner)
                for path in paths:
                    before = state.get(path, ROOT_DIRECTORY)
                    if match is None or isinstance(before, str):
                        state[path] = f"chown {owner}: write numeric UID:GID so the owner can be checked"
                    else:
                        state[path] = (int(match[1]), int(match[2]), before[2])
            elif command == "chmod":
                mode_text, *paths = operands
                for path in paths:
                    before = state.get(path, ROOT_DIRECTORY)
                    if not re.fullmatch(r"[0-7]{3,4}", mode_text):
                        state[path] = f"chmod {mode_text}: write an octal mode so it can be checked"
                    elif not isinstance(before, str):
                        state[path] = (before[0], before[1], int(mode_text, 8))
    return declared


def fargate_bind_mount(stage: list[Instruction], container_path: str) -> tuple[int, int, int]:
    """(uid, gid, mode) of a Fargate task's bind mount at ``container_path`` for an image whose final
    stage is ``stage``. Amazon ECS developer guide, "Use bind mounts with Amazon ECS": when the image
    declares the same absolute path with VOLUME, the data (owner and mode included) at that path is
    copied into the volume; otherwise the volume is created owned by root with mode 0755."""
    return owners_at_volume(stage).get(container_path, ROOT_DIRECTORY)


def stage_name(stage: list[Instruction]) -> str | None:
    """The ``AS`` name of a stage's FROM, if it has one."""
    words = stage[0].arguments.split()
    return words[-1] if len(words) >= 3 and words[-2].upper() == "AS" else None


def built(text: str, index: int) -> list[Instruction]:
    """Stage ``index`` with what it builds on: a FROM naming an earlier stage starts from that stage's steps."""
    found = stages(text)
    stage = found[index]
    parent = stage[0].arguments.split()[0]
    earlier = [i for i, s in enumerate(found[:index]) if stage_name(s) == parent]
    return [*built(text, earlier[-1]), *stage[1:]] if earlier else stage


def stage_named(text: str, name: str) -> list[Instruction]:
    (index,) = [i for i, s in enumerate(stages(text)) if stage_name(s) == name]
    return built(text, index)


def final_stage(path: Path) -> list[Instruction]:
    text = path.read_text(encoding="utf-8")
    return built(text, len(stages(text)) - 1)
