"""The executor's HTTP contract (SPEC §6): request and answer types, the error types it sets, its error body,
and the facts about its process that callers read from outside (ECS reports its exit code).

Requests are read with ``ExecuteRequest.from_json`` / ``SyncRequest.from_json``: every problem of a body
(missing, wrong type, out of range, unknown field) is reported at once as an ``InvalidBody``. Answers are
read with ``from_json`` on the caller's side, so the executor and the agent share one spelling.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

EXIT_UNWRITABLE = 73
"""EX_CANTCREAT (sysexits.h): the executor's workdir or temp dir cannot be written, so it did not start."""

EXIT_MEANINGS = {
    EXIT_UNWRITABLE: "the executor's workdir or temp dir is not writable (its log line names the path and the fix)",
}

HEALTH_PATH = "/health"
"""Unauthenticated; the session target group's health check asks it."""
API_PREFIX = "/v1"
"""Every route under it needs the executor token."""
SESSIONS_PATH = f"{API_PREFIX}/sessions"
"""A session's routes: ``{SESSIONS_PATH}/<session id>/execute``, ``.../files``, ``.../sync``."""

MAX_CALL_TIMEOUT_SECONDS = 900.0
"""The longest one execute call may run (SPEC §6: timeoutSeconds ≤ 900)."""


class Language(StrEnum):
    PYTHON = "python"
    BASH = "bash"


class CallStatus(StrEnum):
    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"


class ErrorType(StrEnum):
    """The ``error.type`` values the executor sets itself. Any other value is the class name of the Python
    exception the user's code raised (``KeyError``, ``MemoryError``, …)."""

    TIMEOUT = "Timeout"
    """The call ran past its timeout. A Python worker is interrupted (KeyboardInterrupt; its variables are
    kept) and killed and replaced only if it does not stop within a short grace (its variables are gone);
    the message says which."""
    WORKER_CRASHED = "WorkerCrashed"
    """The Python worker died during the call (os._exit, segfault, out of memory); the next call gets a fresh one."""
    WORKER_UNAVAILABLE = "WorkerUnavailable"
    """No Python worker could be started for the session; the call may be repeated."""
    EXIT_CODE = "ExitCode"
    """A bash command exited with a non-zero status."""
    WORKSPACE_QUOTA = "WorkspaceQuotaExceeded"
    """The call took the session over its disk quota (EXECUTOR_MAX_WORKSPACE_MB) or the disk below the space the
    server keeps for itself; files the call created were removed (the message names them) and the call was
    stopped if it was still running. Files of earlier calls are kept."""


class SyncDirection(StrEnum):
    DOWNLOAD = "download"
    UPLOAD = "upload"


@dataclass(frozen=True)
class CallError:
    type: ErrorType | str
    message: str
    traceback: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"type": str(self.type), "message": self.message, "traceback": self.traceback}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CallError:
        kind = str(data["type"])
        known = kind in ErrorType.__members__.values()
        return cls(ErrorType(kind) if known else kind, str(data["message"]), data.get("traceback"))


@dataclass(frozen=True)
class ExecuteResult:
    """The answer to ``POST /v1/sessions/{sid}/execute`` (200 whatever the code did)."""

    status: CallStatus
    stdout: str = ""
    stderr: str = ""
    error: CallError | None = None
    duration_ms: int = 0
    truncated: bool = False
    """Output beyond EXECUTOR_MAX_OUTPUT_BYTES per stream was cut (head and tail kept)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "stdout": self.stdout,
            "stderr": self.stderr,
            "error": None if self.error is None else self.error.to_json(),
            "durationMs": self.duration_ms,
            "truncated": self.truncated,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExecuteResult:
        error = data.get("error")
        return cls(
            status=CallStatus(data["status"]),
            stdout=str(data.get("stdout", "")),
            stderr=str(data.get("stderr", "")),
            error=None if error is None else CallError.from_json(error),
            duration_ms=int(data.get("durationMs", 0)),
            truncated=bool(data.get("truncated", False)),
        )


@dataclass(frozen=True)
class FileEntry:
    """One file of ``GET /v1/sessions/{sid}/files``; ``modified`` is ISO 8601 UTC ending in ``Z``."""

    path: str
    bytes: int
    modified: str

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "bytes": self.bytes, "modified": self.modified}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FileEntry:
        return cls(str(data["path"]), int(data["bytes"]), str(data["modified"]))


@dataclass(frozen=True)
class StoredFile:
    """The 201 answer to ``PUT /v1/sessions/{sid}/files/{path}``."""

    path: str
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "bytes": self.bytes}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoredFile:
        return cls(str(data["path"]), int(data["bytes"]))


@dataclass(frozen=True)
class SyncResult:
    """The answer to ``POST /v1/sessions/{sid}/sync``: how many files moved, and their bytes."""

    files: int
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"files": self.files, "bytes": self.bytes}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SyncResult:
        return cls(int(data["files"]), int(data["bytes"]))


@dataclass(frozen=True)
class FieldProblem:
    field: str
    problem: str

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "problem": self.problem}


@dataclass(frozen=True)
class ErrorBody:
    """Every 4xx/5xx answer of the executor: ``{"error": str}`` plus ``fields`` (422) or ``hint`` when given."""

    error: str
    fields: tuple[FieldProblem, ...] = ()
    hint: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error}
        if self.fields:
            body["fields"] = [problem.to_json() for problem in self.fields]
        if self.hint is not None:
            body["hint"] = self.hint
        return body

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ErrorBody:
        fields = tuple(FieldProblem(str(f["field"]), str(f["problem"])) for f in data.get("fields") or ())
        return cls(str(data["error"]), fields, data.get("hint"))


class InvalidBody(ValueError):
    """A request body with problems (HTTP 422); ``problems`` names every one."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid request body: " + "; ".join(f"{p.field}: {p.problem}" for p in problems))


@dataclass(frozen=True)
class _Field:
    name: str
    """The JSON name."""
    kinds: tuple[type, ...]
    required: bool = False
    check: Callable[[Any], str | None] = lambda _value: None
    """The problem with a value of the right type, or None."""


def _kind_names(kinds: tuple[type, ...]) -> str:
    names = {str: "a string", int: "a number", float: "a number", bool: "true or false"}
    return " or ".join(dict.fromkeys(names.get(kind, kind.__name__) for kind in kinds))


def _read(body: Mapping[str, Any], fields: tuple[_Field, ...]) -> dict[str, Any]:
    """The body's values by JSON name (absent optional fields left out), or InvalidBody naming every problem."""
    known = [field.name for field in fields]
    problems: list[FieldProblem] = []
    values: dict[str, Any] = {}
    for field in fields:
        if field.name not in body:
            if field.required:
                problems.append(FieldProblem(field.name, "required"))
            continue
        value = body[field.name]
        if (isinstance(value, bool) and bool not in field.kinds) or not isinstance(value, field.kinds):
            problems.append(FieldProblem(field.name, f"wrong type: must be {_kind_names(field.kinds)}"))
        elif problem := field.check(value):
            problems.append(FieldProblem(field.name, problem))
        else:
            values[field.name] = value
    for name in body:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
            hint = f"did you mean {close[0]}?" if close else f"known fields: {', '.join(known)}"
            problems.append(FieldProblem(name, f"unknown field; {hint}"))
    if problems:
        raise InvalidBody(problems)
    return values


def _one_of(kind: type[StrEnum]) -> Callable[[Any], str | None]:
    allowed = [str(member) for member in kind]
    return lambda value: None if value in allowed else f"must be {' or '.join(allowed)}"


def _timeout_problem(value: float) -> str | None:
    if math.isfinite(value) and 0 < value <= MAX_CALL_TIMEOUT_SECONDS:
        return None
    return f"must be > 0 and <= {MAX_CALL_TIMEOUT_SECONDS:g}"


@dataclass(frozen=True)
class ExecuteRequest:
    """The body of ``POST /v1/sessions/{sid}/execute``."""

    code: str
    language: Language = Language.PYTHON
    timeout_seconds: float | None = None
    """None: the executor's EXECUTOR_CALL_TIMEOUT_SECONDS."""

    FIELDS = (
        _Field("code", (str,), required=True),
        _Field("language", (str,), check=_one_of(Language)),
        _Field("timeoutSeconds", (int, float), check=_timeout_problem),
    )

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "language": str(self.language)}
        if self.timeout_seconds is not None:
            body["timeoutSeconds"] = self.timeout_seconds
        return body

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ExecuteRequest:
        values = _read(body, cls.FIELDS)
        timeout = values.get("timeoutSeconds")
        return cls(
            code=values["code"],
            language=Language(values.get("language", Language.PYTHON)),
            timeout_seconds=None if timeout is None else float(timeout),
        )


MAX_SYNC_FILES = 10000
"""The most files one sync request may move."""


@dataclass(frozen=True)
class Transfer:
    """One file of a sync: its path in the workspace and the presigned S3 URL to GET it from (download)
    or PUT it to (upload). The agent signs the URL for this session's own key; the executor holds no
    cloud credentials and only follows it."""

    path: str
    url: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "url": self.url}


def _transfers_problem(value: list[Any]) -> str | None:
    if len(value) > MAX_SYNC_FILES:
        return f"at most {MAX_SYNC_FILES} files per request"
    for index, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != {"path", "url"}:
            return f"entry {index} must be an object with exactly path and url"
        path, url = item["path"], item["url"]
        if not isinstance(path, str) or not path.strip("/") or not isinstance(url, str):
            return f"entry {index}: path must be a non-empty string and url a string"
        if not url.startswith(("https://", "http://")):
            return f"entry {index}: url must be an http(s) URL (a presigned S3 URL)"
    return None


@dataclass(frozen=True)
class SyncRequest:
    """The body of ``POST /v1/sessions/{sid}/sync``: each file moves between its workspace ``path`` and its
    presigned ``url`` - download: GET the URL into the path; upload: PUT the file at the path to the URL."""

    direction: SyncDirection
    files: tuple[Transfer, ...]

    FIELDS = (
        _Field("direction", (str,), required=True, check=_one_of(SyncDirection)),
        _Field("files", (list,), required=True, check=_transfers_problem),
    )

    def to_json(self) -> dict[str, Any]:
        return {"direction": str(self.direction), "files": [transfer.to_json() for transfer in self.files]}

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> SyncRequest:
        values = _read(body, cls.FIELDS)
        files = tuple(Transfer(item["path"], item["url"]) for item in values["files"])
        return cls(SyncDirection(values["direction"]), files)
