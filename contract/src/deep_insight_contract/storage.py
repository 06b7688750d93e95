"""Where a session's files live in the artifacts bucket (SPEC §7)."""

from __future__ import annotations

SESSIONS_PREFIX = "sessions/"
"""Everything of every session; lifecycle expiry and IAM grants are scoped to it."""


def session_prefix(session_id: str) -> str:
    return f"{SESSIONS_PREFIX}{session_id}/"


def input_prefix(session_id: str) -> str:
    """Data files the caller uploads for the job."""
    return f"{session_prefix(session_id)}input/"


def artifacts_prefix(session_id: str) -> str:
    """What the job produces (figures, charts, citations, reports)."""
    return f"{session_prefix(session_id)}artifacts/"


def plan_review_key(session_id: str) -> str:
    """Where a person's decision on the job's plan goes (payload planReview): JSON {"action": "approve"} or
    {"action": "revise", "plan": "..."}; the runtime waits for it and deletes it once read."""
    return f"{session_prefix(session_id)}review/decision.json"


def console_record_key(session_id: str) -> str:
    """What a console job asked and who asked it (``startedBy``: the caller's AWS identity), written by the
    console that started the session and read back for its history."""
    return f"{session_prefix(session_id)}console.json"
