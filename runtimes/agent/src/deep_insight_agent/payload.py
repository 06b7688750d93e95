"""The invocation payload of SPEC §7, checked before any work starts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

MAX_PROMPT_CHARACTERS = 20_000
MAX_DATA_FILES = 20
SESSION_ID_LENGTH = range(33, 257)  # AgentCore runtime session ids
HANGUL = re.compile(r"[\uac00-\ud7a3]")


class PayloadError(ValueError):
    """A bad invocation: the message says what is wrong and how to fix it (one line)."""


@dataclass(frozen=True)
class Invocation:
    prompt: str
    data: tuple[str, ...]
    language: str


def parse_session_id(session_id: str | None) -> str:
    if not session_id or len(session_id) not in SESSION_ID_LENGTH:
        raise PayloadError(
            "the runtime session id must be 33-256 characters (X-Amzn-Bedrock-AgentCore-Runtime-Session-Id)"
        )
    return session_id


def parse_invocation(payload: Any, *, artifact_bucket: str | None) -> Invocation:
    if not isinstance(payload, dict):
        raise PayloadError('the payload must be a JSON object such as {"prompt": "..."}')
    unknown = sorted(set(payload) - {"prompt", "data", "language"})
    if unknown:
        raise PayloadError(f"unknown field(s) {', '.join(unknown)}; the payload has prompt, data and language")
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
        if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
            raise PayloadError(f"data entry {uri!r} is not an s3://bucket/key URI")
        if artifact_bucket is not None and parsed.netloc != artifact_bucket:
            raise PayloadError(f"data entry {uri!r} is outside the artifacts bucket {artifact_bucket}; upload it there")
    language = payload.get("language")
    if language is None:
        language = "ko" if HANGUL.search(prompt) else "en"
    elif language not in ("ko", "en"):
        raise PayloadError(f"language {language!r} is not supported; use ko or en")
    return Invocation(prompt=prompt.strip(), data=tuple(data), language=language)
