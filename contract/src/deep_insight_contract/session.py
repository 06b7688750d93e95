"""The job session id: which ids Deep Insight accepts, and the value the ALB routes on.

AgentCore accepts any runtime session id of 33-256 characters (botocore: ``SessionType``, min 33,
max 256, no pattern). The id also becomes an ECS and ELB tag value (``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*``),
a path segment of the executor's API and a log field, so Deep Insight accepts a narrower set: an ASCII
letter or digit, then letters, digits, ``.``, ``_`` and ``-``, at most 256 characters in all. Ids that
reach the agent through AgentCore are also at least 33 characters long; a local executor accepts shorter.

The ALB never sees the raw id: a header condition matches at most 128 characters, case-insensitively,
with ``*`` and ``?`` as wildcards. It routes on `routing_key`, a lowercase hex digest of the id, which is
always valid there and distinct for distinct ids.
"""

from __future__ import annotations

import hashlib
import re

SESSION_ID_MAX = 256
AGENTCORE_SESSION_ID_MIN = 33
SESSION_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,255}")
SESSION_ID_RULE = "1-256 characters: an ASCII letter or digit, then letters, digits, '.', '_' or '-'"

ROUTING_HEADER = "X-Deep-Insight-Session"
"""The header the ALB's per-session listener rule matches; its value is `routing_key` of the session id."""


class InvalidSessionId(ValueError):
    """A session id outside `SESSION_ID_RULE`; the message is one line naming the id and the rule."""


def is_session_id(value: object) -> bool:
    return isinstance(value, str) and SESSION_ID_PATTERN.fullmatch(value) is not None


def check_session_id(value: object) -> str:
    """Return ``value`` if it is a session id Deep Insight accepts, else raise `InvalidSessionId`."""
    if is_session_id(value):
        return value  # type: ignore[return-value]
    shown = repr(value) if not isinstance(value, str) or len(value) <= 80 else repr(value[:77] + "...")
    raise InvalidSessionId(f"session id {shown} is not accepted; use {SESSION_ID_RULE}")


def routing_key(session_id: str) -> str:
    """The ``X-Deep-Insight-Session`` value for a session: 64 lowercase hex digits (SHA-256 of the id)."""
    return hashlib.sha256(check_session_id(session_id).encode()).hexdigest()
