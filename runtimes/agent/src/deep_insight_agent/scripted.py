"""Strands ``Model``s that replay prepared turns: they replace only the LLM, in tests and in
``bench/agent_bench.py`` (and let a developer run the whole workflow without Bedrock)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from strands.models.model import Model
from strands.types.exceptions import ModelThrottledException


@dataclass(frozen=True)
class Prompt:
    """What one request would send a real model, as text: the system prompt, the tool specs (JSON) and each
    message of the conversation (JSON), in order. ``reply`` is what the script answered (its text and
    tool calls), the model's output."""

    system: str
    tools: str
    messages: tuple[str, ...]
    reply: str


class ScriptedModel(Model):
    """Each turn is {"text": str} and/or {"tools": [{"name", "input"}]}, optionally with "usage" (token counts
    that replace the default 100 in / 20 out, e.g. cache reads); turns are used in order."""

    def __init__(self, turns: list[dict[str, Any]]) -> None:
        self.turns = list(turns)
        self.config: dict[str, Any] = {}
        self.requests: list[list[dict[str, Any]]] = []
        self.prompts: list[Prompt] = []
        """Per request, what a real model would be sent and what it answered (bench/agent_bench.py counts
        the tokens)."""

    def update_config(self, **model_config: Any) -> None:
        self.config.update(model_config)

    def get_config(self) -> dict[str, Any]:
        return self.config

    async def structured_output(self, output_model, prompt, system_prompt=None, **kwargs):  # type: ignore[override]
        raise AssertionError("the workflow does not ask for structured output")
        yield  # pragma: no cover

    async def stream(self, messages, tool_specs=None, system_prompt=None, **kwargs) -> AsyncIterator[dict]:  # type: ignore[override]
        self.requests.append(messages)
        if not self.turns:
            raise AssertionError("the script has no turn left")
        turn = self.turns.pop(0)
        self.prompts.append(
            Prompt(
                system=system_prompt or "",
                tools=json.dumps(tool_specs or [], ensure_ascii=False),
                messages=tuple(json.dumps(m, ensure_ascii=False, default=str) for m in messages),
                reply=json.dumps({k: turn[k] for k in ("text", "tools") if k in turn}, ensure_ascii=False),
            )
        )
        yield {"messageStart": {"role": "assistant"}}
        if turn.get("text"):
            yield {"contentBlockStart": {"start": {}}}
            text = turn["text"]
            for start in range(0, len(text), 40):
                yield {"contentBlockDelta": {"delta": {"text": text[start : start + 40]}}}
            yield {"contentBlockStop": {}}
        for index, call in enumerate(turn.get("tools", [])):
            yield {
                "contentBlockStart": {
                    "start": {"toolUse": {"toolUseId": f"call-{id(turn)}-{index}", "name": call["name"]}}
                }
            }
            yield {
                "contentBlockDelta": {"delta": {"toolUse": {"input": json.dumps(call["input"], ensure_ascii=False)}}}
            }
            yield {"contentBlockStop": {}}
        yield {"messageStop": {"stopReason": "tool_use" if turn.get("tools") else "end_turn"}}
        yield {
            "metadata": {
                "usage": {"inputTokens": 100, "outputTokens": 20, "totalTokens": 120, **turn.get("usage", {})},
                "metrics": {"latencyMs": 1},
            }
        }


class ThrottledOnce(ScriptedModel):
    """Bedrock says 'slow down' on the first request, then answers from the script."""

    def __init__(self, turns: list[dict[str, Any]]) -> None:
        super().__init__(turns)
        self.throttled = False

    async def stream(self, messages, tool_specs=None, system_prompt=None, **kwargs) -> AsyncIterator[dict]:  # type: ignore[override]
        if not self.throttled:
            self.throttled = True
            raise ModelThrottledException("ThrottlingException: Too many requests")
        async for event in super().stream(messages, tool_specs, system_prompt, **kwargs):
            yield event


class SilentOnce(ScriptedModel):
    """The first request's stream says nothing at all for ``silence`` seconds."""

    def __init__(self, turns: list[dict[str, Any]], silence: float) -> None:
        super().__init__(turns)
        self.silence = silence
        self.silent = False

    async def stream(self, messages, tool_specs=None, system_prompt=None, **kwargs) -> AsyncIterator[dict]:  # type: ignore[override]
        if not self.silent:
            self.silent = True
            await asyncio.sleep(self.silence)
        async for event in super().stream(messages, tool_specs, system_prompt, **kwargs):
            yield event
