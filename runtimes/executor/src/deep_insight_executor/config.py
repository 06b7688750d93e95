"""Executor settings from the environment (SPEC §6) and the command line, validated at start-up."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import psutil
from deep_insight_contract.environment import ExecutorEnv as E
from deep_insight_contract.executor import MAX_CALL_TIMEOUT_SECONDS
from deep_insight_contract.session import SESSION_ID_RULE, is_session_id


class ConfigError(ValueError):
    """A bad setting; the message is one line naming the variable, the value and the fix."""


SANDBOXES = ("none", "bwrap")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def token_digest(token: str) -> bytes:
    """What the server keeps of a token: its SHA-256, compared with that of the token a call offers."""
    return hashlib.sha256(token.encode()).digest()


def _token(env: Mapping[str, str]) -> bytes | None:
    """The token's digest from whichever one of its three variables is set (ConfigError for two, or a bad one).

    A file is read and removed at once: a process of the server's uid (user code, in the image) could read
    the environment of a parent that holds the token, never a file that is gone."""
    given = [name for name in (E.TOKEN, E.TOKEN_FILE, E.TOKEN_SHA256) if env.get(name)]
    if len(given) > 1:
        raise ConfigError(f"{' and '.join(given)} are both set; give the token one way only")
    if env.get(E.TOKEN):
        return token_digest(env[E.TOKEN])
    if env.get(E.TOKEN_SHA256):
        raw = env[E.TOKEN_SHA256].strip().lower()
        if not SHA256_HEX.fullmatch(raw):
            raise ConfigError(f"{E.TOKEN_SHA256} is not a SHA-256 in hex; give the 64 hex digits of the token's digest")
        return bytes.fromhex(raw)
    if env.get(E.TOKEN_FILE):
        path = Path(env[E.TOKEN_FILE])
        try:
            token = path.read_text().strip()
            path.unlink()
        except OSError as error:
            raise ConfigError(
                f"{E.TOKEN_FILE}={path} cannot be read and removed ({error.strerror or error}); "
                "give a file this user owns, in a folder it may write"
            ) from None
        if not token:
            raise ConfigError(f"{E.TOKEN_FILE}={path} is empty; write the token into it")
        return token_digest(token)
    return None


def default_memory_limit_mb() -> int:
    """80% of the memory this task may use: the cgroup limit when there is one, else the machine's."""
    total = psutil.virtual_memory().total
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            raw = Path(path).read_text().strip()
        except OSError:
            continue
        if raw.isdigit() and int(raw) < total:
            total = int(raw)
    return int(total * 0.8) // (1024 * 1024)


@dataclass(frozen=True)
class ExecutorConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    token_sha256: bytes | None = None
    """The SHA-256 of the bearer token every /v1/* call must carry; None: no token (--insecure-no-token)."""
    session_id: str | None = None
    workdir: Path = Path("/workspace")
    max_output_bytes: int = 65536
    memory_limit_mb: int = 2048
    session_timeout_seconds: float = 3600.0
    idle_timeout_seconds: float = 1800.0
    default_call_timeout_seconds: float = 120.0
    max_upload_bytes: int = 100 * 1024 * 1024
    max_processes: int = 256
    max_sessions: int = 16
    max_workspace_mb: int | None = None
    """Each session's disk quota; None: shared out of the workdir's free space at start (quota.default_quota_mb)."""
    sandbox: str = "none"
    """How workers are confined beyond their uid and limits: ``bwrap`` (bubblewrap) or ``none``."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ExecutorConfig:
        env = os.environ if env is None else env

        def number(name: str, default: float, low: float, high: float, kind: type = int) -> float:
            raw = env.get(name)
            if raw is None or raw == "":
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise ConfigError(f"{name}={raw!r} is not a number; use {kind.__name__} {low}..{high}") from None
            if not low <= value <= high:
                raise ConfigError(f"{name}={raw!r} is out of range; use {low}..{high}")
            return value

        sandbox = env.get(E.SANDBOX) or cls.sandbox
        if sandbox not in SANDBOXES:
            raise ConfigError(f"{E.SANDBOX}={sandbox!r} is not one of {', '.join(SANDBOXES)}")
        session_id = env.get(E.SESSION_ID) or None
        if session_id is not None and not is_session_id(session_id):
            raise ConfigError(f"SESSION_ID={session_id!r} is not a session id; use {SESSION_ID_RULE}")
        return cls(
            host=env.get(E.HOST, cls.host),
            port=int(number(E.PORT, cls.port, 1, 65535)),
            token_sha256=_token(env),
            session_id=session_id,
            workdir=Path(env.get(E.WORKDIR) or cls.workdir),
            max_output_bytes=int(number(E.MAX_OUTPUT_BYTES, cls.max_output_bytes, 1024, 64 * 1024 * 1024)),
            memory_limit_mb=int(number(E.MEMORY_LIMIT_MB, default_memory_limit_mb(), 256, 1024 * 1024)),
            session_timeout_seconds=number(E.SESSION_TIMEOUT_SECONDS, cls.session_timeout_seconds, 1, 86400, float),
            idle_timeout_seconds=number(E.IDLE_TIMEOUT_SECONDS, cls.idle_timeout_seconds, 1, 86400, float),
            default_call_timeout_seconds=number(
                E.CALL_TIMEOUT_SECONDS, cls.default_call_timeout_seconds, 1, MAX_CALL_TIMEOUT_SECONDS, float
            ),
            max_upload_bytes=int(number(E.MAX_UPLOAD_BYTES, cls.max_upload_bytes, 1, 10 * 1024**3)),
            max_processes=int(number(E.MAX_PROCESSES, cls.max_processes, 8, 100000)),
            max_sessions=int(number(E.MAX_SESSIONS, cls.max_sessions, 1, 1000)),
            max_workspace_mb=int(number(E.MAX_WORKSPACE_MB, 0, 8, 10 * 1024**2)) or None,  # 0: unset, from the disk
            sandbox=sandbox,
        )

    def with_overrides(self, **changes: object) -> ExecutorConfig:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
