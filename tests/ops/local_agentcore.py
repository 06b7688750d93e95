"""AgentCore's data plane, as far as ``invoke_agent_runtime`` sees it, in front of the real agent app.

botocore's model of InvokeAgentRuntime (bedrock-agentcore 2024-02-28): ``POST
/runtimes/{agentRuntimeArn}/invocations?qualifier=<endpoint>``, the ARN percent-encoded as one path segment
(``:`` and ``/`` too), the session id in ``X-Amzn-Bedrock-AgentCore-Runtime-Session-Id``, the payload as the
raw body, errors as rest-json (``x-amzn-ErrorType`` + ``{"message"}``). AgentCore hands the request to the
container's ``POST /invocations`` with the session header; this wrapper does the same in-process and
records what it forwarded.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

import uvicorn

SESSION_HEADER = "x-amzn-bedrock-agentcore-runtime-session-id"
_PATH = re.compile(rb"/runtimes/([^/]+)/invocations")


@dataclass
class Invocation:
    runtime_arn: str
    qualifier: str | None
    headers: dict[str, str]
    body: bytearray = field(default_factory=bytearray)

    @property
    def session_id(self) -> str | None:
        return self.headers.get(SESSION_HEADER)

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


class AgentCoreDataPlane:
    """ASGI app: the data-plane invocation path for one runtime ARN and endpoint, forwarded to ``agent``."""

    def __init__(self, agent: Any, runtime_arn: str, qualifier: str = "live") -> None:
        self.agent = agent
        self.runtime_arn = runtime_arn
        self.qualifier = qualifier
        self.invocations: list[Invocation] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # lifespan: the agent app's own
            await self.agent(scope, receive, send)
            return
        # The decoded path would turn the ARN's %2F into a path separator: match the raw one.
        match = _PATH.fullmatch(scope.get("raw_path") or scope["path"].encode())
        if scope["method"] != "POST" or match is None:
            await _error(send, 404, "UnknownOperationException", f"no operation at {scope['method']} {scope['path']}")
            return
        arn = unquote(match.group(1).decode())
        qualifier = (parse_qs(scope["query_string"].decode()).get("qualifier") or [None])[0]
        if arn != self.runtime_arn or qualifier != self.qualifier:
            await _error(send, 404, "ResourceNotFoundException", f"no endpoint {qualifier!r} of runtime {arn}")
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        invocation = Invocation(arn, qualifier, headers)
        self.invocations.append(invocation)

        async def recording_receive() -> dict[str, Any]:
            message = await receive()
            if message["type"] == "http.request":
                invocation.body += message.get("body", b"")
            return message

        forwarded = {**scope, "path": "/invocations", "raw_path": b"/invocations", "query_string": b""}
        await self.agent(forwarded, recording_receive, send)


async def _error(send: Any, status: int, kind: str, message: str) -> None:
    body = json.dumps({"message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"x-amzn-errortype", kind.encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """``app`` under uvicorn on 127.0.0.1 in a thread; stops (cancelling open streams) on exit."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=5)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
