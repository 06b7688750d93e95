"""`deep-insight:tags` accepts exactly the characters every tagged service accepts, per botocore.

components/aws_facts.py keeps the rule as a literal (`TAG_CHARACTERS`), so the program needs nothing at config time but
itself; this test derives the same rule from botocore's TagKey/TagValue shapes of every service the stack
tags (found from the dev and prod evaluations, so a newly tagged service joins the intersection by itself)
and compares the two on all of ASCII, Latin-1 and a broad sample of Unicode.
"""

from __future__ import annotations

import json
import random
import sys

import pytest

from components.aws_facts import TAG_CHARACTERS, TAG_KEY_LENGTH, TAG_VALUE_LENGTH
from components.errors import ConfigError
from components.settings import parse_settings, tag_text_problem
from ops.evaluate import Evaluation
from tests.botocore_shapes import TAGGING_OPERATIONS, Limit, java_pattern, service_of, tag_limits

RUNTIME_TAGGED = {"ecs", "elbv2"}  # the agent tags executor tasks and per-session target groups itself


def _sample() -> list[str]:
    rng = random.Random(20261202)
    points = set(range(0x250))  # ASCII, Latin-1, Latin Extended
    points |= {0x85, 0xA0, 0x1680, 0x2000, 0x2007, 0x200B, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF}
    points |= {ord(c) for c in "ÄöüßçñØÆЖщΩλ한국語日本٣٤²³½ⅣⅫ①𝟘𝔸"}
    while len(points) < 12000:
        point = rng.randrange(sys.maxunicode + 1)
        if not 0xD800 <= point <= 0xDFFF:
            points.add(point)
    return [chr(p) for p in sorted(points)]


SAMPLE = _sample()


@pytest.fixture(scope="module")
def tagged_services(dev: Evaluation, prod: Evaluation) -> set[str]:
    services = {service_of(r.type) for e in (dev, prod) for r in e.resources if r.custom and r.inputs.get("tags")}
    assert None not in services, "a tagged resource type has no botocore service in tests/botocore_shapes.py"
    return {s for s in services if s} | RUNTIME_TAGGED


def test_every_tagged_service_is_known(tagged_services):
    assert tagged_services <= set(TAGGING_OPERATIONS)
    assert "bedrock-agentcore-control" in tagged_services  # the narrowest one is among them


def accepted_by_all(limits: list[Limit], char: str) -> bool:
    return all(java_pattern(lim.pattern).fullmatch(char) for lim in limits if lim.pattern)


@pytest.mark.parametrize("part", ["key", "value"])
def test_the_literal_is_exactly_the_intersection_of_botocores_patterns(tagged_services, part):
    limits = [tag_limits(service)[0 if part == "key" else 1] for service in sorted(tagged_services)]
    assert any(lim.pattern for lim in limits)
    literal = java_pattern(f"[{TAG_CHARACTERS}]*")
    differ = [
        (hex(ord(c)), ascii(c), bool(literal.fullmatch(c)))
        for c in SAMPLE
        if bool(literal.fullmatch(c)) != accepted_by_all(limits, c)
    ]
    assert differ == [], f"(code point, character, TAG_CHARACTERS accepts it) where botocore's {part}s disagree"


def test_lengths_are_the_intersection_of_botocores(tagged_services):
    keys, values = zip(*(tag_limits(service) for service in sorted(tagged_services)), strict=True)
    assert range(max(k.min or 0 for k in keys), min(k.max or 10**6 for k in keys) + 1) == TAG_KEY_LENGTH
    assert range(max(v.min or 0 for v in values), min(v.max or 10**6 for v in values) + 1) == TAG_VALUE_LENGTH


def tags_problem(tags: dict[str, str]) -> str | None:
    raw = {
        "aws:region": "us-east-1",
        "deep-insight:agent.modelId": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "deep-insight:tags": json.dumps(tags),
    }
    try:
        parse_settings(raw, stack="dev")
    except ConfigError as error:
        return str(error)
    return None


@pytest.mark.parametrize(
    ("tags", "shown"),
    [
        ({"cost center": "Zürich"}, "the value has 'ü'"),
        ({"owner": "데이터팀"}, "the value has '데', '이', '터', '팀'"),
        ({"a#b": "x"}, "the key has '#'"),
        ({"team": "data\tscience"}, "the value has '\\t'"),
        ({"note": "a,b;c"}, "the value has ',', ';'"),
        ({"nbsp": "a\u00a0b"}, "the value has '\\xa0'"),
    ],
)
def test_a_bad_character_is_one_line_naming_the_tag_the_characters_and_the_allowed_set(tags, shown):
    message = tags_problem(tags)
    assert message is not None
    assert message.count("\n") == 0
    assert message.startswith(f"deep-insight:tags: tag {next(iter(tags))!r}: ")
    assert shown in message
    assert "letters A-Z a-z, digits 0-9, space and _ . : / = + @ -" in message


def test_every_allowed_character_passes():
    everything = "".join(c for c in SAMPLE if java_pattern(f"[{TAG_CHARACTERS}]").fullmatch(c))
    assert len(everything) == 26 * 2 + 10 + len(" _.:/=+@-")
    assert tags_problem({everything[:128]: everything}) is None
    assert tag_text_problem("k", everything) is None
