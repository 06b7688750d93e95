"""The invocation payload of SPEC §7, checked before any work starts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

from deep_insight_contract.session import AGENTCORE_SESSION_ID_MIN, SESSION_ID_RULE, is_session_id

from deep_insight_agent.local_inputs import InputFileError, local_input

MAX_PROMPT_CHARACTERS = 20_000
MAX_DATA_FILES = 20
HANGUL = re.compile(r"[\uac00-\ud7a3]")


class PayloadError(ValueError):
    """A bad invocation: the message says what is wrong and how to fix it (one line)."""


PLAN_REVIEW_TIMEOUT = range(10, 3601)
"""Seconds a plan review may wait for a person (default 600: ten minutes)."""
FIELDS = ("prompt", "data", "language", "planReview", "planReviewTimeoutSeconds", "planReviewOnTimeout")


@dataclass(frozen=True)
class Invocation:
    prompt: str
    data: tuple[str, ...]
    language: str
    plan_review: bool = False
    plan_review_timeout_seconds: int = 600
    plan_review_on_timeout: str = "proceed"
    """``proceed`` with the planner's plan, or ``cancel`` the job, when nobody decides in time."""


def parse_session_id(session_id: object) -> str:
    """The runtime session id if Deep Insight accepts it: the contract's rule, and AgentCore's minimum length.

    AgentCore accepts any 33-256 characters, but the id also becomes ECS and ELB tag values, the executor's
    URL path and (hashed) the ALB route, so anything else is refused here, before any AWS call.
    """
    if isinstance(session_id, str) and is_session_id(session_id) and len(session_id) >= AGENTCORE_SESSION_ID_MIN:
        return session_id
    shown = (
        repr(session_id) if not isinstance(session_id, str) or len(session_id) <= 80 else repr(session_id[:77] + "...")
    )
    raise PayloadError(
        f"the runtime session id (X-Amzn-Bedrock-AgentCore-Runtime-Session-Id) {shown} is not accepted;"
        f" use {SESSION_ID_RULE}, and at least {AGENTCORE_SESSION_ID_MIN} characters"
    )


def parse_invocation(payload: Any, *, artifact_bucket: str | None, data_dirs: tuple[Path, ...] = ()) -> Invocation:
    """The payload if it is one; ``file://`` inputs (only without a bucket) must lie under ``data_dirs``."""
    if not isinstance(payload, dict):
        raise PayloadError('the payload must be a JSON object such as {"prompt": "..."}')
    unknown = sorted(set(payload) - set(FIELDS))
    if unknown:
        raise PayloadError(f"unknown field(s) {', '.join(unknown)}; the payload has {', '.join(FIELDS)}")
    prompt = payload.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise PayloadError("prompt is required: a non-empty string with the question")
    if len(prompt) > MAX_PROMPT_CHARACTERS:
        raise PayloadError(f"prompt has {len(prompt)} characters; keep it under {MAX_PROMPT_CHARACTERS}")
    data = payload.get("data", [])
    if not isinstance(data, list) or not all(isinstance(uri, str) for uri in data):
        raise PayloadError('data must be a list of S3 URIs, e.g. ["s3://bucket/sessions/<id>/input/sales.csv"]')
    if len(data) > MAX_DATA_FILES:
        raise PayloadError(f"data lists {len(data)} files; give at most {MAX_DATA_FILES}")
    for uri in data:
        parsed = urlparse(uri)
        if parsed.scheme == "file" and artifact_bucket is None:
            try:
                local_input(uri, data_dirs)
            except InputFileError as error:
                raise PayloadError(str(error)) from None
            continue
        if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
            where = "an s3://bucket/key URI" if artifact_bucket else "an s3://bucket/key or file:///absolute/path URI"
            raise PayloadError(f"data entry {uri!r} is not {where}")
        if artifact_bucket is not None and parsed.netloc != artifact_bucket:
            raise PayloadError(f"data entry {uri!r} is outside the artifacts bucket {artifact_bucket}; upload it there")
    names = [PurePosixPath(urlparse(uri).path).name for uri in data]
    if len(set(names)) < len(names):
        raise PayloadError("data has two files of the same name; they would land on one path in data/")
    language = payload.get("language")
    if language is None:
        language = "ko" if HANGUL.search(prompt) else "en"
    elif language not in ("ko", "en"):
        raise PayloadError(f"language {language!r} is not supported; use ko or en")
    review = payload.get("planReview", False)
    if not isinstance(review, bool):
        raise PayloadError("planReview must be true or false")
    timeout = payload.get("planReviewTimeoutSeconds", 600)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout not in PLAN_REVIEW_TIMEOUT:
        raise PayloadError(
            f"planReviewTimeoutSeconds must be a whole number of seconds from {PLAN_REVIEW_TIMEOUT.start} to "
            f"{PLAN_REVIEW_TIMEOUT.stop - 1}, not {timeout!r}"
        )
    on_timeout = payload.get("planReviewOnTimeout", "proceed")
    if on_timeout not in ("proceed", "cancel"):
        raise PayloadError(f"planReviewOnTimeout must be proceed or cancel, not {on_timeout!r}")
    return Invocation(
        prompt=prompt.strip(),
        data=tuple(data),
        language=language,
        plan_review=review,
        plan_review_timeout_seconds=timeout,
        plan_review_on_timeout=on_timeout,
    )
