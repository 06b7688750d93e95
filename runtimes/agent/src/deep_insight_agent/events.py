"""The event stream of SPEC §7: one JSON object per server-sent event, each with ``type``, ``ts`` and
``sessionId``; ``keepalive`` after 15 s of silence; exactly one terminal ``complete`` or ``error``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from deep_insight_contract.events import KEEPALIVE_AFTER_SECONDS, REQUIRED_FIELDS, TERMINAL, EventType


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _event_type(kind: Any) -> EventType | None:
    try:
        return EventType(kind)
    except ValueError:
        return None


def make_event(kind: EventType, session_id: str, **fields: Any) -> dict[str, Any]:
    event_type = _event_type(kind)
    if event_type is None:
        raise ValueError(f"unknown event type {kind!r}")
    missing = REQUIRED_FIELDS[event_type] - fields.keys()
    if missing:
        raise ValueError(f"{kind} event needs {', '.join(sorted(missing))}")
    return {"type": event_type.value, "ts": now_iso(), "sessionId": session_id, **fields}


def validate_event(event: Any) -> list[str]:
    """Problems with one event against SPEC §7 (empty when it conforms)."""
    if not isinstance(event, dict):
        return ["not a JSON object"]
    problems = []
    kind = event.get("type")
    event_type = _event_type(kind)
    if event_type is None:
        return [f"unknown type {kind!r}"]
    for name in ("ts", "sessionId"):
        if not isinstance(event.get(name), str) or not event[name]:
            problems.append(f"{kind}: {name} missing")
    if isinstance(event.get("ts"), str):
        try:
            parsed = datetime.fromisoformat(event["ts"].replace("Z", "+00:00"))
            if parsed.utcoffset() is None or parsed.utcoffset().total_seconds() != 0:  # type: ignore[union-attr]
                problems.append(f"{kind}: ts is not UTC")
        except ValueError:
            problems.append(f"{kind}: ts is not ISO-8601")
    problems += [f"{kind}: {name} missing" for name in sorted(REQUIRED_FIELDS[event_type] - event.keys())]
    if event_type is EventType.ERROR and not isinstance(event.get("retryable"), bool):
        problems.append("error: retryable is not a boolean")
    if event_type is EventType.COMPLETE:
        usage = event.get("usage")
        if not isinstance(usage, dict) or not {"inputTokens", "outputTokens"} <= usage.keys():
            problems.append("complete: usage needs inputTokens and outputTokens")
        if not isinstance(event.get("artifacts"), list):
            problems.append("complete: artifacts is not a list")
    return problems


def validate_stream(events: list[dict[str, Any]]) -> list[str]:
    """Problems with a whole stream: every event valid, one session, exactly one terminal event, last."""
    problems = [p for event in events for p in validate_event(event)]
    terminals = [i for i, event in enumerate(events) if event.get("type") in TERMINAL]
    if len(terminals) != 1:
        problems.append(f"{len(terminals)} terminal events; a stream has exactly one")
    elif terminals[0] != len(events) - 1:
        problems.append("events follow the terminal event")
    if len({event.get("sessionId") for event in events}) > 1:
        problems.append("events of more than one session")
    return problems


def sse(event: dict[str, Any]) -> str:
    return f"data: {json.dumps(event, ensure_ascii=False)}\n\n"


async def guarded(
    source: AsyncIterator[dict[str, Any]],
    session_id: str,
    *,
    keepalive_after: float = KEEPALIVE_AFTER_SECONDS,
    describe_failure: Callable[[BaseException], tuple[str, bool]] = lambda error: (
        str(error) or type(error).__name__,
        False,
    ),
) -> AsyncIterator[dict[str, Any]]:
    """Relay ``source`` with keepalives in its silences, and end it with exactly one terminal event:
    the source's own, or an ``error`` when it fails or stops without one. Nothing follows it."""
    iterator = source.__aiter__()
    pending: asyncio.Task[dict[str, Any]] | None = None
    last = time.monotonic()
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=max(0.0, keepalive_after - (time.monotonic() - last)))
            if not done:
                last = time.monotonic()
                yield make_event(EventType.KEEPALIVE, session_id)
                continue
            task, pending = pending, None
            try:
                event = task.result()
            except StopAsyncIteration:
                yield make_event(EventType.ERROR, session_id, message="the job ended without a result", retryable=True)
                return
            except Exception as error:
                message, retryable = describe_failure(error)
                yield make_event(EventType.ERROR, session_id, message=message, retryable=retryable)
                return
            last = time.monotonic()
            yield event
            if event.get("type") in TERMINAL:
                return
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        closer = getattr(iterator, "aclose", None)
        if closer is not None:
            with contextlib.suppress(BaseException):
                await closer()
