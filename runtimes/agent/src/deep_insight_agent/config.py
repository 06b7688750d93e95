"""The agent's configuration: in AWS only the environment the Pulumi program sets (SPEC §7); started for local
development, also what its flags say about who may call it and which local files it may read."""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from deep_insight_contract.environment import AgentEnv
from deep_insight_contract.loopback import LOOPBACK_NAMES, is_loopback
from deep_insight_contract.target_group import SessionTargetGroupTemplate

Env = AgentEnv
"""The names the program sets (one definition: `deep_insight_contract.environment.AgentEnv`)."""


class ConfigError(ValueError):
    """Missing or bad environment; the message names every variable concerned, on one line."""


@dataclass(frozen=True)
class EcsSettings:
    """Everything the ECS/ALB executor backend needs to know about the stack."""

    region: str
    stack: str
    cluster_arn: str
    task_definition_arn: str
    container: str
    subnet_ids: tuple[str, ...]
    security_group_id: str
    vpc_id: str
    listener_arn: str
    alb_dns: str
    max_sessions: int
    target_group: SessionTargetGroupTemplate
    executor_session_timeout_seconds: int
    artifact_bucket: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> EcsSettings:
        env = os.environ if env is None else env
        optional = (Env.MODEL_ID, Env.AGENT_MODELS)  # the model, not the executor sessions
        missing = [name.value for name in Env if name not in optional and not env.get(name.value)]
        if missing:
            raise ConfigError(f"missing environment: {', '.join(missing)} (the Pulumi program sets them)")
        try:
            template = SessionTargetGroupTemplate.from_json(env[Env.SESSION_TARGET_GROUP])
        except ValueError as error:
            raise ConfigError(f"{Env.SESSION_TARGET_GROUP.value} is not the template JSON: {error}") from None
        try:
            max_sessions = int(env[Env.MAX_SESSIONS])
            timeout = int(env[Env.EXECUTOR_SESSION_TIMEOUT_SECONDS])
        except ValueError:
            raise ConfigError(
                f"{Env.MAX_SESSIONS.value} and {Env.EXECUTOR_SESSION_TIMEOUT_SECONDS.value} must be whole numbers"
            ) from None
        return cls(
            region=env[Env.AWS_REGION],
            stack=env[Env.STACK],
            cluster_arn=env[Env.CLUSTER_ARN],
            task_definition_arn=env[Env.TASK_DEFINITION_ARN],
            container=env[Env.EXECUTOR_CONTAINER],
            subnet_ids=tuple(s.strip() for s in env[Env.SUBNET_IDS].split(",") if s.strip()),
            security_group_id=env[Env.EXECUTOR_SECURITY_GROUP_ID],
            vpc_id=env[Env.VPC_ID],
            listener_arn=env[Env.LISTENER_ARN],
            alb_dns=env[Env.ALB_DNS],
            max_sessions=max_sessions,
            target_group=template,
            executor_session_timeout_seconds=timeout,
            artifact_bucket=env[Env.ARTIFACT_BUCKET],
        )


# --- the app started for local development (``--local-executor``): who may send it what ---

JSON_MEDIA_TYPE = "application/json"
"""The one request body type taken: a browser sends a cross-origin POST without asking first (no CORS
preflight) only as text/plain, form data or urlencoded."""
PING_PATH = "/ping"
"""Needs no token (a health check carries none); the Host check still applies."""
MIN_TOKEN_CHARACTERS = 16
TOKEN_FLAG = "--token-file"
NO_TOKEN_FLAG = "--insecure-no-token"
ALLOW_HOST_FLAG = "--allow-host"
DATA_DIR_FLAG = "--data-dir"
DEV_FLAGS = (TOKEN_FLAG, NO_TOKEN_FLAG, ALLOW_HOST_FLAG, DATA_DIR_FLAG)
"""What only the locally started app takes; in AWS, AgentCore authenticates every request itself."""


def host_key(host: str, default_port: int) -> str | None:
    """``name:port`` in lower case (IPv6 in brackets) for a Host header or an --allow-host value; None if it
    is not one (a scheme, a path, a bad port)."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        name = f"[{name}]"
        if rest and not rest.startswith(":"):
            return None
        port = rest[1:]
    elif host.count(":") > 1:  # a bare IPv6 address, as --allow-host may give it
        name, port = f"[{host}]", ""
    else:
        name, _, port = host.partition(":")
    if not name or name == "[]" or any(c in name for c in "/@?#\\ ") or (port and not port.isdigit()):
        return None
    return f"{name}:{int(port) if port else default_port}"


def read_token(path: Path) -> str:
    """The token in ``path`` (surrounding whitespace left out). A missing file is created with a new random
    token (mode 0600), so that the developer reads it from there; it is never printed."""
    try:
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32) + "\n")
        mode = path.stat().st_mode
        if stat.S_ISREG(mode) and mode & 0o077:
            raise ConfigError(
                f"{TOKEN_FLAG} {path} can be read by other users (mode {stat.S_IMODE(mode):04o}); chmod 600 {path}"
            )
        token = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ConfigError(f"{TOKEN_FLAG} {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{TOKEN_FLAG} {path} is not text; put the token on its first line") from None
    if len(token) < MIN_TOKEN_CHARACTERS or not token.isascii() or not token.isprintable() or " " in token:
        raise ConfigError(
            f"{TOKEN_FLAG} {path} must hold one token of at least {MIN_TOKEN_CHARACTERS} printable ASCII characters"
            " without spaces; remove the file and the agent writes a new one"
        )
    return token


@dataclass(frozen=True)
class DevServer:
    """What the locally started app enforces: the token (None: --insecure-no-token), the Host values it
    answers (``name:port``), and the one folder file:// inputs may come from (None: none may)."""

    token: str | None
    token_file: Path | None
    hosts: frozenset[str]
    data_dir: Path | None

    @classmethod
    def from_flags(
        cls,
        *,
        host: str,
        port: int,
        token_file: Path | None,
        insecure_no_token: bool,
        allow_hosts: Sequence[str],
        data_dir: Path | None,
    ) -> DevServer:
        if token_file is not None and insecure_no_token:
            raise ConfigError(f"give {TOKEN_FLAG} FILE or {NO_TOKEN_FLAG}, not both")
        if token_file is None and not insecure_no_token:
            raise ConfigError(
                "--local-executor needs a token that callers send as 'Authorization: Bearer <token>':"
                f" give {TOKEN_FLAG} FILE (a file holding it), or {NO_TOKEN_FLAG} to serve without one on loopback"
            )
        if insecure_no_token and not is_loopback(host):
            raise ConfigError(
                f"{NO_TOKEN_FLAG} serves anyone who can reach the port, so only on a loopback address"
                f" (127.0.0.1, ::1, localhost), not {host}; give {TOKEN_FLAG} FILE to listen there"
            )
        hosts = {key for name in LOOPBACK_NAMES if (key := host_key(name, port))}
        if host not in ("0.0.0.0", "::") and (key := host_key(host, port)):
            hosts.add(key)  # the address it was told to listen on, as a browser names it
        for value in allow_hosts:
            key = host_key(value, port)
            if key is None:
                raise ConfigError(f"{ALLOW_HOST_FLAG} {value!r} is not a host name or address with an optional :port")
            hosts.add(key)
        folder = None
        if data_dir is not None:
            folder = data_dir.expanduser().resolve()
            if not folder.is_dir():
                raise ConfigError(f"{DATA_DIR_FLAG} {data_dir} is not a folder; give the folder of your input files")
        token = read_token(token_file.expanduser()) if token_file is not None else None
        return cls(token, token_file, frozenset(hosts), folder)
