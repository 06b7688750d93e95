"""The SPEC §7 event stream: event shapes, keepalives in silences, exactly one terminal event."""

from __future__ import annotations

import asyncio

import pytest
from deep_insight_agent.events import guarded, make_event, sse, validate_event, validate_stream
from deep_insight_contract.events import EventType

SID = "s" * 40


async def collect(source, **kwargs) -> list[dict]:
    return [event async for event in guarded(source, SID, **kwargs)]


async def scripted(*steps):
    """Yield events, or sleep for a number of seconds, or raise an exception, in order."""
    for step in steps:
        if isinstance(step, (int, float)):
            await asyncio.sleep(step)
        elif isinstance(step, BaseException):
            raise step
        else:
            yield step


def complete() -> dict:
    return make_event("complete", SID, artifacts=[], durationSeconds=1.5, usage={"inputTokens": 10, "outputTokens": 5})


def test_events_carry_type_timestamp_and_session():
    event = make_event("status", SID, phase="executor starting")
    assert event["type"] == "status"
    assert event["sessionId"] == SID
    assert event["ts"].endswith("Z")
    assert validate_event(event) == []
    assert sse(event).startswith("data: {") and sse(event).endswith("}\n\n")  # noqa: PT018
    with pytest.raises(ValueError, match="artifact event needs bytes, name, s3Uri"):
        make_event("artifact", SID)


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ({"type": "nope"}, "unknown type"),
        ({"type": "keepalive", "sessionId": SID}, "keepalive: ts missing"),
        ({"type": "keepalive", "sessionId": SID, "ts": "yesterday"}, "not ISO-8601"),
        ({"type": "keepalive", "sessionId": SID, "ts": "2026-11-24T10:00:00+09:00"}, "not UTC"),
        (
            {"type": "error", "sessionId": SID, "ts": "2026-11-24T01:00:00Z", "message": "x", "retryable": "no"},
            "boolean",
        ),
        (
            {
                "type": "complete",
                "sessionId": SID,
                "ts": "2026-11-24T01:00:00Z",
                "artifacts": [],
                "durationSeconds": 1,
                "usage": {},
            },
            "inputTokens",
        ),
    ],
)
def test_validation_finds_each_problem(event, problem):
    assert any(problem in p for p in validate_event(event))


def test_stream_is_relayed_and_ends_at_the_terminal_event():
    events = asyncio.run(
        collect(scripted(make_event("status", SID, phase="start"), complete(), make_event("status", SID, phase="late")))
    )
    assert [e["type"] for e in events] == ["status", "complete"]
    assert validate_stream(events) == []


def test_silence_is_filled_with_keepalives():
    events = asyncio.run(
        collect(scripted(make_event("status", SID, phase="start"), 0.35, complete()), keepalive_after=0.1)
    )
    kinds = [e["type"] for e in events]
    assert kinds[0] == "status"
    assert kinds[-1] == "complete"
    assert 2 <= kinds.count("keepalive") <= 4
    assert validate_stream(events) == []


def test_a_failure_becomes_the_one_error_event():
    events = asyncio.run(collect(scripted(make_event("status", SID, phase="start"), RuntimeError("model unavailable"))))
    assert [e["type"] for e in events] == ["status", "error"]
    assert events[-1]["message"] == "model unavailable"
    assert events[-1]["retryable"] is False
    assert validate_stream(events) == []


def test_a_source_that_stops_without_result_ends_in_a_retryable_error():
    events = asyncio.run(collect(scripted(make_event("status", SID, phase="start"))))
    assert events[-1]["type"] == "error"
    assert events[-1]["retryable"] is True


def test_the_stream_validator_rejects_broken_streams():
    status = make_event("status", SID, phase="x")
    assert "0 terminal events" in validate_stream([status])[0]
    assert "events follow the terminal event" in validate_stream([complete(), status])
    other = make_event("status", "t" * 40, phase="x")
    assert "events of more than one session" in validate_stream([other, complete()])


def test_an_event_on_the_wire_is_the_same_whether_named_by_string_or_by_the_contract_type():
    by_name = make_event("keepalive", SID)
    by_type = make_event(EventType.KEEPALIVE, SID)
    assert type(by_type["type"]) is str
    assert sse(by_type) == sse(by_name).replace(by_name["ts"], by_type["ts"])
    assert sse(by_type).startswith('data: {"type": "keepalive", "ts": "')
