"""The session-id rule and the routing key, checked against what AWS accepts (botocore's models, ALB docs)."""

from __future__ import annotations

import random
import re
import string

import botocore.session
import pytest
from deep_insight_contract.session import (
    AGENTCORE_SESSION_ID_MIN,
    SESSION_ID_MAX,
    InvalidSessionId,
    check_session_id,
    is_session_id,
    routing_key,
)

_BOTOCORE = botocore.session.get_session()

# ALB listener rules, "HTTP header conditions" (Elastic Load Balancing user guide): each value is at most
# 128 characters, compared case-insensitively, and `*` / `?` are wildcards. Not in botocore's model.
ALB_HEADER_VALUE_MAX = 128


def _shape(service: str, shape: str) -> dict:
    return _BOTOCORE.get_service_model(service).shape_for(shape).metadata


def _java_pattern(pattern: str) -> re.Pattern[str]:
    """botocore's Java-style classes for tag values, in Python's ``re`` (letters, separators, numbers)."""
    pattern = pattern.replace(r"\p{L}", "a-zA-Z\u00c0-\u024f\uac00-\ud7a3").replace(r"\p{Z}", " \u00a0")
    return re.compile(pattern.replace(r"\p{N}", "0-9"))


def _candidates(n: int = 4000) -> list[str]:
    """Random strings over a broad alphabet (ASCII punctuation, spaces, Hangul), about half of them valid."""
    rng = random.Random(20261202)
    broad = string.printable + "세션가é\u00a0"
    narrow = string.ascii_letters + string.digits + "._-"
    out = []
    for i in range(n):
        alphabet = broad if i % 2 else narrow
        out.append("".join(rng.choice(alphabet) for _ in range(rng.randrange(1, SESSION_ID_MAX + 8))))
    return [*out, "a" * SESSION_ID_MAX, "550e8400-e29b-41d4-a716-446655440000"]


def _samples() -> list[str]:
    accepted = [sid for sid in _candidates() if is_session_id(sid)]
    assert len(accepted) > 1000  # the sample exercises the rule, not an empty set
    return accepted


def test_agentcore_bounds_come_from_botocore() -> None:
    session_type = _BOTOCORE.get_service_model("bedrock-agentcore").operation_model("InvokeAgentRuntime")
    member = session_type.input_shape.members["runtimeSessionId"].metadata
    assert (member["min"], member["max"]) == (AGENTCORE_SESSION_ID_MIN, SESSION_ID_MAX)


@pytest.mark.parametrize(("service", "shape"), [("ecs", "TagValue"), ("elbv2", "TagValue")])
def test_every_accepted_id_is_a_valid_tag_value(service: str, shape: str) -> None:
    meta = _shape(service, shape)
    pattern = _java_pattern(meta["pattern"])
    for sid in _samples():
        assert meta["min"] <= len(sid) <= meta["max"]
        assert pattern.fullmatch(sid), sid


def test_routing_key_is_a_safe_alb_header_value_and_distinct() -> None:
    samples = _samples()
    keys = {routing_key(sid) for sid in samples}
    assert len(keys) == len(set(samples))  # distinct ids, distinct keys
    for key in keys:
        assert len(key) <= ALB_HEADER_VALUE_MAX
        assert key == key.lower()  # the ALB compares case-insensitively
        assert not set(key) & set("*?")  # wildcards in a condition value
    # Ids that differ only in case are different sessions; the ALB could not tell them apart.
    assert routing_key("A" * 40) != routing_key("a" * 40)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "a" * (SESSION_ID_MAX + 1),
        "session-*-" + "x" * 30,
        "session-?-" + "x" * 30,
        "세션-" + "x" * 40,
        "-leading-hyphen-" + "x" * 30,
        "with space " + "x" * 30,
        "slash/" + "x" * 30,
        None,
        42,
    ],
)
def test_rejects_ids_outside_the_rule_with_one_line(bad: object) -> None:
    assert not is_session_id(bad)
    with pytest.raises(InvalidSessionId) as caught:
        check_session_id(bad)
    message = str(caught.value)
    assert "\n" not in message
    assert "session id" in message
    assert len(message) < 300
    with pytest.raises(InvalidSessionId):
        routing_key(bad)  # type: ignore[arg-type]
