"""One retry layer and one stall timer for a model turn: whatever throttles, the request count is the
configured one, counted where requests leave the process (botocore's ``before-send`` on the real Bedrock
client built for the agents), and the turn gives up within its time budget."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from deep_insight_agent.bedrock import bedrock_model
from deep_insight_agent.resilience import STALL_SECONDS, ModelStalledError
from deep_insight_agent.scripted import ScriptedModel
from deep_insight_agent.workflow import build_agent
from strands.types.exceptions import ModelThrottledException


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Any:
        yield self.data


def throttling_response(request: Any) -> AWSResponse:
    # What Bedrock Runtime answers when throttled: HTTP 429 with the error type in x-amzn-ErrorType
    # (restJson1 protocol; ThrottlingException is a 429 in the bedrock-runtime service model).
    headers = {"x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"}
    body = b'{"message":"Too many requests, please wait before trying again."}'
    return AWSResponse(request.url, 429, headers, _Body(body))


@pytest.fixture
def bedrock(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in (("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"), ("AWS_SECRET_ACCESS_KEY", "secret")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return bedrock_model("anthropic.claude-3-haiku-20240307-v1:0", "us-east-1")


def run_turn(agent: Any, *, after: Any = None) -> tuple[float, Exception | None]:
    """Run one turn: its duration in seconds, measured in the loop (asyncio.run afterwards still joins
    the worker thread of an abandoned request), and how it failed (None when it answered). ``after``
    runs when the turn has ended."""

    async def drain() -> tuple[float, Exception | None]:
        started = time.monotonic()
        try:
            async for _ in agent.stream_async("hello"):
                pass
        except Exception as error:
            return time.monotonic() - started, error
        finally:
            if after is not None:
                after()
        return time.monotonic() - started, None

    return asyncio.run(drain())


def test_a_throttled_turn_sends_exactly_the_configured_number_of_requests(bedrock: Any) -> None:
    sent: list[str] = []

    def before_send(request: Any, **_: Any) -> AWSResponse:
        sent.append(request.url)
        return throttling_response(request)

    bedrock.client.meta.events.register("before-send.bedrock-runtime.ConverseStream", before_send)
    notices: list[str] = []
    agent = build_agent(bedrock, tools=[], system_prompt="s", notify=notices.append, attempts=4, base_delay=0.001)
    _, error = run_turn(agent)
    assert isinstance(error, ModelThrottledException)
    assert len(sent) == 4  # not 4 x botocore's retries x strands' retries
    assert len(notices) == 3
    assert all(n.startswith("model throttled; retrying in") for n in notices)


def test_a_turn_throttled_twice_then_answered_makes_three_requests() -> None:
    class ThrottledTwice(ScriptedModel):
        calls = 0

        async def stream(self, messages, tool_specs=None, system_prompt=None, **kwargs):  # type: ignore[override]
            type(self).calls += 1
            if type(self).calls <= 2:
                raise ModelThrottledException("ThrottlingException")
            async for event in super().stream(messages, tool_specs, system_prompt, **kwargs):
                yield event

    notices: list[str] = []
    agent = build_agent(
        ThrottledTwice([{"text": "fine"}]), tools=[], system_prompt="s", notify=notices.append, base_delay=0.001
    )
    assert run_turn(agent)[1] is None
    assert ThrottledTwice.calls == 3
    assert [n.split(";")[0] for n in notices] == ["model throttled", "model throttled"]


def test_throttling_gives_up_within_the_total_budget(bedrock: Any) -> None:
    sent: list[float] = []

    def before_send(request: Any, **_: Any) -> AWSResponse:
        sent.append(time.monotonic())
        return throttling_response(request)

    bedrock.client.meta.events.register("before-send.bedrock-runtime.ConverseStream", before_send)
    notices: list[str] = []
    agent = build_agent(
        bedrock, tools=[], system_prompt="s", notify=notices.append, attempts=1000, base_delay=0.1, total_seconds=1.0
    )
    elapsed, error = run_turn(agent)
    assert isinstance(error, ModelThrottledException)
    assert elapsed < 1.0 + 1.0
    assert 2 <= len(sent) < 1000
    assert "giving up" in notices[-1]


def test_a_silent_bedrock_request_is_abandoned_by_the_stall_timer(bedrock: Any) -> None:
    # The request hangs (no response yet) longer than the stall timer: the turn must not wait for it.
    sent: list[float] = []
    release = threading.Event()

    def before_send(request: Any, **_: Any) -> AWSResponse:
        sent.append(time.monotonic())
        release.wait(10)
        return throttling_response(request)

    bedrock.client.meta.events.register("before-send.bedrock-runtime.ConverseStream", before_send)
    notices: list[str] = []
    agent = build_agent(bedrock, tools=[], system_prompt="s", notify=notices.append, attempts=2, stall_seconds=0.3)
    elapsed, error = run_turn(agent, after=release.set)
    assert isinstance(error, ModelStalledError)
    assert str(error) == "the model stream stayed silent for 0.3 s on 2 attempts"
    assert elapsed < 0.6 + 1.5  # not the 10 s the request hangs
    assert len(sent) == 2
    assert notices == ["model stream silent for 0.3 s; cancelled and retrying"]


def test_the_bedrock_client_neither_retries_nor_times_out_before_the_stall_timer(bedrock: Any) -> None:
    config = bedrock.client.meta.config
    assert config.retries["total_max_attempts"] == 1
    assert config.read_timeout > STALL_SECONDS == 300.0  # SPEC §7: 5 minutes
    shorter = bedrock_model("anthropic.claude-3-haiku-20240307-v1:0", "us-east-1", stall_seconds=60)
    assert shorter.client.meta.config.read_timeout > 60


def test_silent_stream_wait_is_clipped_to_the_total_budget() -> None:
    class Silent(ScriptedModel):
        calls = 0

        async def stream(self, messages, tool_specs=None, system_prompt=None, **kwargs):  # type: ignore[override]
            type(self).calls += 1
            await asyncio.sleep(10)
            yield {}

    agent = build_agent(
        Silent([]),
        tools=[],
        system_prompt="s",
        notify=lambda _: None,
        attempts=10,
        stall_seconds=0.2,
        total_seconds=0.5,
    )
    elapsed, error = run_turn(agent)
    assert isinstance(error, ModelStalledError)
    assert str(error) == "the model stream stayed silent through 3 attempts in 0.5 s"
    assert elapsed < 0.5 + 0.4
    assert Silent.calls == 3  # silent 0.2 s, 0.2 s, then the 0.1 s left of the budget
