"""The job's event stream (SPEC §7): event types and the fields each carries beyond type, ts, sessionId."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    STATUS = "status"
    AGENT = "agent"
    TEXT = "text"
    TOOL = "tool"
    TOOL_RESULT = "tool_result"
    ARTIFACT = "artifact"
    KEEPALIVE = "keepalive"
    ERROR = "error"
    COMPLETE = "complete"
    AUDIT = "audit"
    PLAN_REVIEW = "plan_review"


REQUIRED_FIELDS: dict[EventType, frozenset[str]] = {
    EventType.STATUS: frozenset({"phase"}),
    EventType.AGENT: frozenset({"agent", "state"}),
    EventType.TEXT: frozenset({"agent", "text"}),
    EventType.TOOL: frozenset({"agent", "tool", "input"}),
    EventType.TOOL_RESULT: frozenset({"agent", "tool", "status"}),
    EventType.ARTIFACT: frozenset({"name", "s3Uri", "bytes"}),
    EventType.KEEPALIVE: frozenset(),
    EventType.ERROR: frozenset({"message", "retryable"}),
    EventType.COMPLETE: frozenset({"artifacts", "durationSeconds", "usage"}),
    EventType.AUDIT: frozenset({"attempt", "passed", "defects", "warnings"}),
    EventType.PLAN_REVIEW: frozenset({"plan", "decisionUri", "timeoutSeconds", "onTimeout"}),
}
TERMINAL = frozenset({EventType.COMPLETE, EventType.ERROR})
"""Exactly one of these ends every stream."""
KEEPALIVE_AFTER_SECONDS = 15.0
