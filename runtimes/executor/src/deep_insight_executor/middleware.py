"""Pure ASGI middleware (no per-request task or body buffering): the bearer check on /v1/*, and one JSON
log line per request carrying its session id."""

from __future__ import annotations

import hmac
import logging
import time

from deep_insight_contract.executor import API_PREFIX, HEALTH_PATH, ErrorBody
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deep_insight_executor import logs
from deep_insight_executor.errors import error_response

log = logging.getLogger("deep_insight_executor.http")
UNAUTHORIZED = ErrorBody("missing or wrong bearer token", hint="send Authorization: Bearer <EXECUTOR_TOKEN>")


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
            if path.startswith(f"{API_PREFIX}/") and not self._authorized(scope):
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
        expected = scope["app"].state.executor.config.token
        if expected is None:
            return True
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, given = header.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(given, expected.encode())


def _session_from_path(path: str) -> str | None:
    parts = path.split("/")
    return parts[3] if len(parts) > 3 and parts[1] == "v1" and parts[2] == "sessions" else None
