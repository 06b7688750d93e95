"""Strands ``Model``s that replay prepared turns: they replace only the LLM, in tests and in
``bench/agent_bench.py`` (and let a developer run the whole workflow without Bedrock)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from strands.models.model import Model
from strands.types.exceptions import ModelThrottledException


class ScriptedModel(Model):
    """Each turn is {"text": str} and/or {"tools": [{"name", "input"}]}, optionally with "usage" (token counts
    that replace the default 100 in / 20 out, e.g. cache reads); turns are used in order."""

    def __init__(self, turns: list[dict[str, Any]]) -> None:
        self.turns = list(turns)
        self.config: dict[str, Any] = {}
        self.requests: list[list[dict[str, Any]]] = []
        self.sent: list[dict[str, int]] = []
        """Per request, the characters of what a real model would be sent: the system prompt and the tool
        specs (the part a prompt cache can hold) and the conversation (bench/agent_bench.py sums them)."""

    def update_config(self, **model_config: Any) -> None:
        self.config.update(model_config)

    def get_config(self) -> dict[str, Any]:
        return self.config

    async def structured_output(self, output_model, prompt, system_prompt=None, **kwargs):  # type: ignore[override]
        raise AssertionError("the workflow does not ask for structured output")
        yield  # pragma: no cover

    async def stream(self, messages, tool_specs=None, system_prompt=None, **kwargs) -> AsyncIterator[dict]:  # type: ignore[override]
        self.requests.append(messages)
        self.sent.append(
            {
                "system": len(system_prompt or ""),
                "tools": len(json.dumps(tool_specs or [], ensure_ascii=False)),
                "messages": len(json.dumps(messages, ensure_ascii=False, default=str)),
            }
        )
        if not self.turns:
            raise AssertionError("the script has no turn left")
        turn = self.turns.pop(0)
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
