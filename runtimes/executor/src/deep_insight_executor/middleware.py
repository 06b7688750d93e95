"""Pure ASGI middleware (no per-request task or body buffering): the Host check of a loopback server, the
bearer check on /v1/*, and one JSON log line per request carrying its session id.

A server on 127.0.0.1 is reachable by any web page its user opens: a page cannot read the answers of another
origin, but it can rebind a name of its own to 127.0.0.1 (DNS rebinding), and then its requests carry that
name as their Host. So a loopback server answers only requests addressed to a loopback name."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time

from deep_insight_contract.executor import API_PREFIX, HEALTH_PATH, ErrorBody
from deep_insight_contract.loopback import LOOPBACK_NAMES, is_loopback
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deep_insight_executor import logs
from deep_insight_executor.config import ExecutorConfig
from deep_insight_executor.errors import error_response

log = logging.getLogger("deep_insight_executor.http")
UNAUTHORIZED = ErrorBody("missing or wrong bearer token", hint="send Authorization: Bearer <the executor's token>")
FOREIGN_HOST = ErrorBody("this server answers requests for a loopback name only: Host 127.0.0.1, localhost or [::1]")


def allowed_hosts(config: ExecutorConfig) -> frozenset[bytes] | None:
    """The Host values a loopback server answers (None: any, for a server that listens beyond loopback, which
    always has a token; behind the ALB its Host is the ALB's name)."""
    if not is_loopback(config.host):
        return None
    names = [f"[{name}]" if ":" in name else name for name in LOOPBACK_NAMES]
    return frozenset(value.encode() for name in names for value in (name, f"{name}:{config.port}"))


class AuthAndLogging:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        session = _session_from_path(path)
        started = time.monotonic()
        status = 500
        token = logs.current_session.set(session)

        async def send_and_remember(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            hosts = allowed_hosts(scope["app"].state.executor.config)
            if hosts is not None and dict(scope["headers"]).get(b"host", b"").lower() not in hosts:
                await error_response(421, FOREIGN_HOST)(scope, receive, send_and_remember)
            elif path.startswith(f"{API_PREFIX}/") and not self._authorized(scope):
                await error_response(401, UNAUTHORIZED)(scope, receive, send_and_remember)
            else:
                await self.app(scope, receive, send_and_remember)
        finally:
            logs.current_session.reset(token)
            if path != HEALTH_PATH:
                log.info(
                    f"{scope['method']} {path} {status}",
                    extra={
                        "session": session,
                        "method": scope["method"],
                        "path": path,
                        "status": status,
                        "durationMs": int((time.monotonic() - started) * 1000),
                    },
                )

    def _authorized(self, scope: Scope) -> bool:
        expected = scope["app"].state.executor.config.token_sha256
        if expected is None:
            return True
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, given = header.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(hashlib.sha256(given).digest(), expected)


def _session_from_path(path: str) -> str | None:
    parts = path.split("/")
    return parts[3] if len(parts) > 3 and parts[1] == "v1" and parts[2] == "sessions" else None
