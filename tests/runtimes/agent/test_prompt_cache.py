"""Prompt caching: the ConverseStream request strands builds for the agents' Bedrock model carries a cache
point after the system prompt and after the tool definitions (Bedrock's ``cachePoint`` content block, in
its ConverseStream API reference); botocore's own model of the request is checked, and the request is
stopped before it leaves."""

from __future__ import annotations

import asyncio

import botocore.session
import pytest
from deep_insight_agent.bedrock import bedrock_model

TOOL = {"name": "python", "description": "Run Python.", "inputSchema": {"json": {"type": "object", "properties": {}}}}


class Stopped(Exception):
    pass


def captured_request(model_id: str, monkeypatch) -> dict:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    model = bedrock_model(model_id, "us-east-1")
    seen: dict = {}

    def stop(params, **_):
        seen.update(params)
        raise Stopped

    model.client.meta.events.register("provide-client-params.bedrock-runtime.ConverseStream", stop)

    async def send() -> None:
        messages = [{"role": "user", "content": [{"text": "총 매출은?"}]}]
        async for _ in model.stream(messages, tool_specs=[TOOL], system_prompt="You are the coder."):
            pass

    with pytest.raises(Stopped):
        asyncio.run(send())
    return seen


def test_claude_requests_cache_the_system_prompt_and_the_tools(monkeypatch):
    request = captured_request("us.anthropic.claude-sonnet-4-5-20250929-v1:0", monkeypatch)
    assert request["system"][0] == {"text": "You are the coder."}
    assert "cachePoint" in request["system"][-1]
    assert "cachePoint" in request["toolConfig"]["tools"][-1]
    shape = botocore.session.get_session().get_service_model("bedrock-runtime").shape_for("SystemContentBlock")
    assert "cachePoint" in shape.members  # what Bedrock's model calls it


def test_a_model_without_caching_gets_no_cache_point(monkeypatch):
    request = captured_request("amazon.nova-pro-v1:0", monkeypatch)
    assert not any("cachePoint" in block for block in request["system"])
