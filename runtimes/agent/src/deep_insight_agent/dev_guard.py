"""The gate in front of the app when it is started for local development (``--local-executor``).

There it is reachable by every web page in the developer's browser and by other users of the machine, where
in AWS only AgentCore's authenticated data plane reaches it. So before the app sees a request: its ``Host``
must be one of this machine's names (a page on evil.example whose name was made to point at 127.0.0.1,
DNS rebinding, still sends ``Host: evil.example``), it must carry the bearer token (except the health ping),
and a body must be JSON (the one type a cross-origin page cannot send without a CORS preflight). Each
refusal is one line of JSON. Plain ASGI, so that nothing the SDK or Starlette does comes first.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from deep_insight_agent.config import (
    ALLOW_HOST_FLAG,
    JSON_MEDIA_TYPE,
    PING_PATH,
    TOKEN_FLAG,
    DevServer,
    host_key,
)

log = logging.getLogger("deep_insight_agent.dev_guard")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

BODYLESS_METHODS = frozenset({"GET", "HEAD"})


class DevGuard:
    def __init__(self, app: ASGIApp, server: DevServer) -> None:
        self.app = app
        self.server = server
        self._token = server.token.encode() if server.token is not None else None
        self._hosts = ", ".join(sorted(server.hosts))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):  # lifespan
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, message, extra = refusal
        log.warning("refused %s %s: %d %s", scope.get("method", "WEBSOCKET"), scope.get("path"), status, message)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # before accept: the handshake gets 403
            return
        body = json.dumps({"error": message}, ensure_ascii=False).encode() + b"\n"
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def refusal(self, scope: Scope) -> tuple[int, str, list[tuple[bytes, bytes]]] | None:
        """(status, one-line message, extra headers) for a request to refuse; None to let it through."""
        headers: dict[bytes, bytes] = {}
        for name, value in scope.get("headers", ()):
            headers.setdefault(name.lower(), value)  # the first of a repeated header, as the app reads it
        raw_host = headers.get(b"host")
        if raw_host is None:
            return 400, "the request has no Host header", []
        host = raw_host.decode("latin-1")
        if host_key(host, 80) not in self.server.hosts:
            shown = host if len(host) <= 80 else host[:77] + "..."
            message = (
                f"Host {shown!r} is not a name this agent answers to ({self._hosts});"
                f" start it with {ALLOW_HOST_FLAG} NAME[:PORT] to add one"
            )
            return 421, message, []
        method = scope.get("method", "GET")
        if self._token is not None and not (method in BODYLESS_METHODS and scope.get("path") == PING_PATH):
            scheme, _, given = headers.get(b"authorization", b"").partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self._token):
                message = f"missing or wrong bearer token; send Authorization: Bearer <the token in {TOKEN_FLAG}"
                message += f" {self.server.token_file}>" if self.server.token_file else ">"
                return 401, message, [(b"www-authenticate", b"Bearer")]
        if scope["type"] == "http" and method not in BODYLESS_METHODS:
            content_type = headers.get(b"content-type", b"").decode("latin-1")
            if content_type.partition(";")[0].strip().lower() != JSON_MEDIA_TYPE:
                shown = repr(content_type[:80]) if content_type else "none"
                return 415, f"the body must be sent as Content-Type: {JSON_MEDIA_TYPE}, not {shown}", []
        return None
