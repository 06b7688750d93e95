"""A model server of someone's own, as far as OpenAI's chat API goes: ``POST /v1/chat/completions`` with
``stream: true`` answers server-sent ``chat.completion.chunk`` objects (text in ``delta.content``, tool calls
in ``delta.tool_calls`` with their arguments as a JSON string, a ``finish_reason``, then a usage chunk and
``data: [DONE]``), the wire format OpenAI's API reference documents and vLLM and Ollama serve. It replays
scripted turns (``deep_insight_agent.scripted``'s format): which agent asks is told by the tools it offers,
which turn by the assistant messages already in the conversation."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from tests.moto_server import free_port

TOOLS_OF = {
    (): "planner",
    ("bash", "python"): "coder",
    ("python", "send_back"): "validator",
    ("write_report",): "reporter",
}


def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict | None = None) -> str:
    body: dict[str, Any] = {
        "id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 0, "model": "scripted",
        "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
    }  # fmt: skip
    if usage:
        body["usage"] = usage
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


class ScriptedServer:
    def __init__(self, turns: dict[str, list[dict]]) -> None:
        self.turns = turns
        self.requests: list[dict[str, Any]] = []
        self.keys: list[str] = []

    async def completions(self, request: Request) -> Any:
        body = await request.json()
        self.requests.append(body)
        self.keys.append(request.headers.get("authorization", ""))
        offered = tuple(sorted(tool["function"]["name"] for tool in body.get("tools") or []))
        agent = TOOLS_OF.get(offered)
        if agent is None:
            return JSONResponse({"error": {"message": f"no script for tools {offered}"}}, status_code=400)
        turn = self.turns[agent][sum(1 for m in body["messages"] if m["role"] == "assistant")]

        def stream() -> Iterator[str]:
            yield chunk({"role": "assistant"})
            if turn.get("text"):
                yield chunk({"content": turn["text"]})
            for index, call in enumerate(turn.get("tools", [])):
                function = {"name": call["name"], "arguments": json.dumps(call["input"], ensure_ascii=False)}
                yield chunk(
                    {"tool_calls": [{"index": index, "id": f"call_{index}", "type": "function", "function": function}]}
                )
            yield chunk({}, finish="tool_calls" if turn.get("tools") else "stop")
            yield chunk({}, usage={"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120})
            yield "data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")


@contextmanager
def serve(turns: dict[str, list[dict]]) -> Iterator[tuple[ScriptedServer, str]]:
    scripted = ScriptedServer(turns)
    app = Starlette(routes=[Route("/v1/chat/completions", scripted.completions, methods=["POST"])])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield scripted, f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(10)
