"""The model wrapper: retries only before a turn has produced anything, and gives up clearly."""

from __future__ import annotations

import asyncio

import pytest
from deep_insight_agent.resilience import ModelStalledError, ResilientModel
from deep_insight_agent.scripted import ScriptedModel
from strands.types.exceptions import ModelThrottledException


class FailsMidAnswer(ScriptedModel):
    async def stream(self, messages, tool_specs=None, system_prompt=None, **kwargs):  # type: ignore[override]
        yield {"messageStart": {"role": "assistant"}}
        raise ModelThrottledException("throttled mid-answer")


class AlwaysSilent(ScriptedModel):
    async def stream(self, messages, tool_specs=None, system_prompt=None, **kwargs):  # type: ignore[override]
        await asyncio.sleep(60)
        yield {}


async def drain(model: ResilientModel) -> list:
    return [event async for event in model.stream([], None, None)]


def test_a_failure_after_the_first_event_is_not_retried():
    notices: list[str] = []
    model = ResilientModel(FailsMidAnswer([]), notify=notices.append, base_delay=0.01)
    with pytest.raises(ModelThrottledException):
        asyncio.run(drain(model))
    assert notices == []


def test_a_stream_silent_on_every_attempt_ends_in_a_clear_error():
    notices: list[str] = []
    model = ResilientModel(AlwaysSilent([]), notify=notices.append, attempts=3, stall_seconds=0.2)
    with pytest.raises(ModelStalledError, match=r"silent for 0\.2 s on 3 attempts"):
        asyncio.run(drain(model))
    assert len(notices) == 2


def test_throttling_backoff_grows_and_is_capped():
    model = ResilientModel(ScriptedModel([]), notify=lambda _: None, base_delay=1.0, max_delay=5.0)
    for attempt, ceiling in ((0, 1.0), (1, 2.0), (2, 4.0), (5, 5.0)):
        assert all(0 <= model._delay(attempt) <= ceiling for _ in range(50))
