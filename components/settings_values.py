"""How one setting's raw text becomes a typed value: small parsers, each reporting every problem it finds.

Pulumi hands the program every config value as text (scalars as written, lists and maps as JSON). A
parser returns the typed value or raises `Invalid` carrying one message per problem ("<what is wrong>;
<the fix>"), so a list with an unsupported *and* a duplicate entry reports both. Parsers know nothing of
other keys: rules that combine keys are in `components.settings_rules`.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Callable, Sequence
from enum import Enum
from typing import TypeVar

from deep_insight_contract.agents import AGENT_NAMES

from components.addressing import VPC_PREFIX_RANGE
from components.aws_facts import (
    AZ_ID_PATTERN,
    AZ_NAME_PATTERN,
    DIGEST_PATTERN,
    DIGEST_URI_PATTERN,
    ECR_PRIVATE_REGISTRY_PATTERN,
    ECR_PUBLIC_REGISTRY,
    LOG_RETENTION_DAYS,
    MODEL_ID_PATTERN,
    REGION_PATTERN,
    RESERVED_TAG_PREFIX,
    TAG_CHARACTERS,
    TAG_CHARACTERS_SHOWN,
    TAG_KEY_LENGTH,
    TAG_VALUE_LENGTH,
    is_ecr_public,
    known_regions,
    unknown_region_message,
)

E = TypeVar("E", bound=Enum)


class Invalid(ValueError):
    """A raw value is unusable; ``messages`` holds one line per problem."""

    def __init__(self, *messages: str) -> None:
        self.messages: tuple[str, ...] = messages
        super().__init__("; ".join(messages))


def shown(raw: str) -> str:
    return repr(raw if len(raw) <= 80 else raw[:77] + "...")


def json_kind(value: object) -> str:
    """How a JSON value reads in a message: ``a number``, ``a boolean``, ..."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "empty (null)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a map"
    return "a string"


def secret_marker(raw: str) -> bool:
    """Whether ``raw`` is a still-encrypted ``secure:`` value (what a stack file holds for a secret)."""
    try:
        value = json.loads(raw)
    except ValueError:
        return False
    return isinstance(value, dict) and set(value) == {"secure"}


def integer(allowed: range, hint: str | None = None) -> Callable[[str], int]:
    fix = hint or f"use {allowed.start}..{allowed.stop - 1}"

    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise Invalid(f"{shown(raw)} is not a whole number; {fix}") from None
        if value not in allowed:
            raise Invalid(f"{value} is out of range; {fix}")
        return value

    return parse


def boolean(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise Invalid(f"{shown(raw)} is not a boolean; use true or false")


def choice(enum: type[E], explain: str = "") -> Callable[[str], E]:
    """One of ``enum``'s values; ``explain``, when given, says what each choice trades (in the error too)."""

    def parse(raw: str) -> E:
        for member in enum:
            if raw == member.value:
                return member
        choices = " | ".join(str(m.value) for m in enum)
        close = [str(m.value) for m in enum if str(m.value).lower() == raw.strip().lower()]
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise Invalid(f"{shown(raw)} is not allowed{hint}; use {choices}" + (f" ({explain})" if explain else ""))

    return parse


def string_list(raw: str, name: str, what: str) -> list[str]:
    """A JSON list of strings; a non-string entry is named (``tags[1] is a number; quote it``)."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, list):
        raise Invalid(f"{shown(raw)} is not a list of {what}; write a YAML list in the stack file")
    wrong = [
        f"{name}[{index}] is {json_kind(entry)} ({json.dumps(entry)}); write it as a quoted string"
        for index, entry in enumerate(value)
        if not isinstance(entry, str)
    ]
    if wrong:
        raise Invalid(*wrong)
    return value


def _duplicates(items: Sequence[str], what: str) -> list[str]:
    repeated = sorted({i for i in items if items.count(i) > 1})
    return [f"{', '.join(repeated)} listed more than once; list each {what} once"] if repeated else []


def cidr(default: str) -> Callable[[str], ipaddress.IPv4Network]:
    def parse(raw: str) -> ipaddress.IPv4Network:
        try:
            network = ipaddress.IPv4Network(raw.strip(), strict=True)
        except ipaddress.AddressValueError:
            raise Invalid(f"{shown(raw)} is not an IPv4 CIDR; use e.g. {default}") from None
        except ValueError:
            try:
                fixed = ipaddress.IPv4Network(raw.strip(), strict=False)
            except ValueError:
                raise Invalid(f"{shown(raw)} is not an IPv4 CIDR; use e.g. {default}") from None
            raise Invalid(f"{shown(raw)} has host bits set; use {fixed}") from None
        problems = []
        if network.prefixlen not in VPC_PREFIX_RANGE:
            problems.append(
                f"{network} has prefix /{network.prefixlen}; use a prefix between /{VPC_PREFIX_RANGE.start} "
                f"and /{VPC_PREFIX_RANGE.stop - 1}, e.g. {default}"
            )
        if not network.is_private:
            problems.append(f"{network} is not a private (RFC 1918) range; use e.g. {default}")
        if problems:
            raise Invalid(*problems)
        return network

    return parse


def zone_ids(name: str, minimum: int) -> Callable[[str], tuple[str, ...]]:
    """AZ IDs: every name given instead of an ID, every malformed and every repeated entry is reported."""

    def parse(raw: str) -> tuple[str, ...]:
        ids = string_list(raw, name, "AZ IDs")
        problems: list[str] = []
        for zone in ids:
            if AZ_NAME_PATTERN.match(zone):
                problems.append(
                    f"{zone} is an AZ name; give AZ IDs such as use1-az1 (names map to different zones in "
                    f"each account; `aws ec2 describe-availability-zones` lists both)"
                )
            elif not AZ_ID_PATTERN.match(zone):
                problems.append(f"{shown(zone)} is not an AZ ID; AZ IDs look like use1-az1")
        problems += _duplicates(ids, "AZ ID")
        if not ids:
            problems.append("the list is empty; list the AZ IDs or remove the key to use the built-in table")
        elif len(set(ids)) < minimum:
            problems.append(f"{ids} has {len(set(ids))} AZ ID(s); list at least {minimum} for high availability")
        if problems:
            raise Invalid(*problems)
        return tuple(ids)

    return parse


def interface_endpoints(name: str, known: Sequence[str]) -> Callable[[str], tuple[str, ...]]:
    def parse(raw: str) -> tuple[str, ...]:
        services = string_list(raw, name, "service suffixes")
        problems: list[str] = []
        for service in services:
            if service in ("s3", "com.amazonaws.s3") or service.endswith(".s3"):
                problems.append("s3 is always a gateway endpoint (free, on the private route tables); remove it")
            elif service not in known:
                suggestion = difflib.get_close_matches(service, known, n=1)
                hint = f" (did you mean {suggestion[0]}?)" if suggestion else ""
                problems.append(
                    f"{shown(service)} is not a known endpoint service{hint}; use suffixes from: {', '.join(known)}"
                )
        problems += _duplicates(services, "service")
        if problems:
            raise Invalid(*problems)
        return tuple(services)

    return parse


def image_uri(service: str) -> Callable[[str], str]:
    """An image URI for ``service``: digest-pinned, in private ECR or ECR Public (see `ECR_PUBLIC_REGISTRY`).

    Every problem is reported: an image that is both outside ECR and tag-pinned gets two lines.
    """

    def parse(raw: str) -> str:
        value = raw.strip()
        problems: list[str] = []
        if not DIGEST_PATTERN.search(value):
            problems.append(
                f"{shown(raw)} is not digest-pinned; use <registry>/<repository>@sha256:<64 hex digits> "
                "(a tag can move, a digest cannot)"
            )
        elif not DIGEST_URI_PATTERN.match(value):
            problems.append(f"{shown(raw)} is not an image URI; use <registry>/<repository>@sha256:<digest>")
        if not (is_ecr_public(value) or ECR_PRIVATE_REGISTRY_PATTERN.match(value)):
            problems.append(
                f"{shown(raw)} is not in Amazon ECR; the program runs {service} images from ECR only: use "
                f"<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<digest> or "
                f"{ECR_PUBLIC_REGISTRY}/<alias>/<repository>@sha256:<digest>"
            )
        if problems:
            raise Invalid(*problems)
        return value

    return parse


def model_id(raw: str) -> str:
    value = raw.strip()
    if not MODEL_ID_PATTERN.match(value):
        raise Invalid(
            f"{shown(raw)} is not a Bedrock model or inference-profile id; "
            "use e.g. us.anthropic.claude-sonnet-4-5-20250929-v1:0"
        )
    return value


def agent_models(raw: str) -> dict[str, str]:
    """agent.models: a map of agent name (planner, coder, validator, reporter) to a model id; every bad entry
    gets its own line."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise Invalid(f"{shown(raw)} is not a map; write a YAML map of agent: model id, e.g. planner: <model id>")
    problems: list[str] = []
    chosen: dict[str, str] = {}
    for agent, model in value.items():
        if agent not in AGENT_NAMES:
            problems.append(f"{agent!r} is not an agent; the agents are {', '.join(AGENT_NAMES)}")
        elif not isinstance(model, str):
            problems.append(f"{agent}: {json.dumps(model)} is not a model id; quote a Bedrock model or profile id")
        else:
            try:
                chosen[agent] = model_id(model)
            except Invalid as error:
                problems += [f"{agent}: {problem}" for problem in error.messages]
    if problems:
        raise Invalid(*problems)
    return chosen


_TAG_TEXT = re.compile(f"[{TAG_CHARACTERS}]*")


def tag_text_problem(tag_key: str, tag_value: str) -> str | None:
    """One line naming the tag, its characters outside `TAG_CHARACTERS` and the allowed set; None if fine."""
    for part, text in (("key", tag_key), ("value", tag_value)):
        if not _TAG_TEXT.fullmatch(text):
            bad = sorted({c for c in text if not _TAG_TEXT.fullmatch(c)})
            listed = ", ".join(repr(c) for c in bad)
            return (
                f"tag {tag_key!r}: the {part} has {listed}, which not every tagged service accepts (AgentCore, "
                f"ELB, ECS, ...); use only {TAG_CHARACTERS_SHOWN}"
            )
    return None


def tags(name: str, reserved: Sequence[str], limit: int) -> Callable[[str], dict[str, str]]:
    """A map of tag key -> value; every bad tag gets its own line."""

    def parse(raw: str) -> dict[str, str]:
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, dict):
            raise Invalid(f'{shown(raw)} is not a map of strings; write a YAML map of key: "value"')
        problems: list[str] = []
        for tag_key, tag_value in value.items():
            if not isinstance(tag_value, str):
                problems.append(
                    f"{name}.{tag_key} is {json_kind(tag_value)} ({json.dumps(tag_value)}); quote it: "
                    f"{tag_key}: {json.dumps(json.dumps(tag_value))}"
                )
                continue
            if len(tag_key) not in TAG_KEY_LENGTH or len(tag_value) not in TAG_VALUE_LENGTH:
                problems.append(
                    f"tag {tag_key!r}: keys are {TAG_KEY_LENGTH.start}-{TAG_KEY_LENGTH.stop - 1} characters and values "
                    f"{TAG_VALUE_LENGTH.start}-{TAG_VALUE_LENGTH.stop - 1}; shorten it"
                )
            elif problem := tag_text_problem(tag_key, tag_value):
                problems.append(problem)
            if tag_key.lower().startswith(RESERVED_TAG_PREFIX):
                problems.append(f"tag {tag_key!r}: the aws: prefix is reserved by AWS; choose another key")
            if tag_key in reserved:
                problems.append(f"tag {tag_key!r} is set by the program; remove it")
        if len(value) > limit:
            problems.append(f"{len(value)} tags given; AWS allows 50 per resource, so use at most {limit}")
        if problems:
            raise Invalid(*problems)
        return value

    return parse


def region_name(raw: str) -> str:
    value = raw.strip()
    if not REGION_PATTERN.match(value):
        raise Invalid(f"{shown(raw)} is not an AWS region name; use e.g. us-east-1")
    if value not in known_regions():
        raise Invalid(unknown_region_message(value))
    return value


def log_retention(raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        value = None
    if value is None or value not in LOG_RETENTION_DAYS:
        nearest = min(LOG_RETENTION_DAYS, key=lambda d: abs(d - value)) if value is not None else 7
        raise Invalid(
            f"{shown(raw)} is not a CloudWatch retention value (nearest: {nearest}); "
            f"use one of {', '.join(map(str, LOG_RETENTION_DAYS))}"
        )
    return value
