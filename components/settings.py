"""Stack settings: every key of SPEC §4 read into one typed, immutable object and validated at once.

`parse_settings` is pure: it takes the raw config strings (what Pulumi hands the program: scalars as
text, lists and maps as JSON) and returns `Settings` or raises `ConfigError` listing *every* problem,
one line each, naming the key, the bad value and the fix. `read_settings` feeds it from the running
Pulumi program. Nothing here talks to AWS; the AZ check that needs the account's AZ list lives in
`components.zones` and runs right after.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from types import MappingProxyType
from typing import Any

import pulumi
from deep_insight_contract.tags import STACK_TAG
from pulumi.runtime import config as runtime_config

from components.addressing import VPC_PREFIX_RANGE, carve_subnets
from components.errors import ConfigError, Problem
from components.names import resource_prefix
from components.runtime_platform import PlatformVersion
from components.zones import AZ_ID_PATTERN, AZ_NAME_PATTERN, MIN_ZONES

PROJECT = "deep-insight"


def key(name: str) -> str:
    """The full config key of a project setting: ``key("network.cidr") == "deep-insight:network.cidr"``."""
    return f"{PROJECT}:{name}"


REGION_KEY = "aws:region"


class NatStrategy(StrEnum):
    NONE = "none"
    SINGLE = "single"
    PER_AZ = "perAz"


class ImageBuild(StrEnum):
    LOCAL = "local"
    PREBUILT = "prebuilt"


class Architecture(StrEnum):
    ARM64 = "arm64"
    X86_64 = "x86_64"


# Interface endpoint service suffixes (com.amazonaws.<region>.<suffix>) that this project knows.
# S3 is not among them: it is always a gateway endpoint (free, and what AgentCore VPC mode needs).
KNOWN_INTERFACE_ENDPOINTS: tuple[str, ...] = (
    "bedrock-agentcore",
    "bedrock-agentcore.gateway",
    "ecr.api",
    "ecr.dkr",
    "logs",
    "bedrock-runtime",
    "ecs",
    "elasticloadbalancing",
    "sts",
    "monitoring",
    "xray",
)
DEFAULT_INTERFACE_ENDPOINTS: tuple[str, ...] = (
    "ecr.api",
    "ecr.dkr",
    "logs",
    "bedrock-runtime",
    "ecs",
    "elasticloadbalancing",
    "sts",
)
# Without NAT these are the only way out: image pulls (ecr.*, plus S3 for layers), logs, the model,
# and the ECS/ELB/STS calls the agent makes to run executor sessions.
REQUIRED_WITHOUT_NAT: tuple[str, ...] = DEFAULT_INTERFACE_ENDPOINTS
EXECUTOR_ENDPOINTS: tuple[str, ...] = ("ecr.api", "ecr.dkr", "logs")

LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


def _steps(start: int, stop: int, step: int) -> tuple[int, ...]:
    return tuple(range(start, stop + 1, step))


# Fargate task cpu (units) -> valid memory (MiB), from the ECS task-size table.
FARGATE_MEMORY_BY_CPU: Mapping[int, tuple[int, ...]] = MappingProxyType(
    {
        256: (512, 1024, 2048),
        512: _steps(1024, 4096, 1024),
        1024: _steps(2048, 8192, 1024),
        2048: _steps(4096, 16384, 1024),
        4096: _steps(8192, 30720, 1024),
        8192: _steps(16384, 61440, 4096),
        16384: _steps(32768, 122880, 8192),
    }
)

DEFAULT_CIDR = "10.100.0.0/16"
MAX_SESSIONS_RANGE = range(1, 91)  # an ALB has 100 rules; keep headroom for the default and ops rules
SESSION_TIMEOUT_RANGE = range(300, 28801)
AGENTCORE_LIFECYCLE_RANGE = range(60, 28801)
# AWS allows 50 tags per resource; the program adds Name and deep-insight:stack.
MAX_USER_TAGS = 48

# Tag keys and values (deep-insight:tags) reach EC2, ECS, ELB, S3, IAM, ECR, CloudWatch Logs and AgentCore,
# so they may use only what all of them accept. botocore's TagKey/TagValue shapes: AgentCore
# [a-zA-Z0-9\s._:/=+@-]*, ECS/ELB/IAM/Logs [\p{L}\p{Z}\p{N}_.:/=+\-@]*, the others no pattern. Where
# they meet (AgentCore's ASCII letters and digits; of Java's \s only the space is also \p{Z}) is this set;
# tests/components/test_tag_characters.py proves it equals that intersection of the installed botocore.
TAG_CHARACTERS = "A-Za-z0-9 _.:/=+@-"
TAG_CHARACTERS_SHOWN = "letters A-Z a-z, digits 0-9, space and _ . : / = + @ -"
TAG_KEY_LENGTH = range(1, 129)
TAG_VALUE_LENGTH = range(257)
_TAG_TEXT = re.compile(f"[{TAG_CHARACTERS}]*")

REGION_PATTERN = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+$")
DIGEST_URI_PATTERN = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$")
# AgentCore Runtime only runs images from ECR, and the roles that pull them are scoped to the repository.
ECR_URI_PATTERN = re.compile(
    r"^(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/"
    r"(?P<repository>[a-z0-9._/-]+)@sha256:[0-9a-f]{64}$"
)
MODEL_ID_PATTERN = re.compile(
    r"^(arn:aws[a-z-]*:bedrock:[a-z0-9-]+:[0-9]{0,12}:"
    r"(foundation-model|inference-profile|application-inference-profile|provisioned-model)/[A-Za-z0-9.:_-]+"
    r"|[a-z0-9-]+\.[A-Za-z0-9.:_-]+)$"
)
# Cross-region inference profiles carry a geography prefix that must match the stack's region.
PROFILE_GEOGRAPHIES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "us": ("us-",),
        "us-gov": ("us-gov-",),
        "eu": ("eu-",),
        "apac": ("ap-",),
        "jp": ("ap-northeast-1", "ap-northeast-3"),
        "au": ("ap-southeast-2", "ap-southeast-4"),
        "ca": ("ca-",),
        "global": ("",),
    }
)


@dataclass(frozen=True)
class NetworkSettings:
    cidr: ipaddress.IPv4Network
    availability_zone_ids: tuple[str, ...] | None
    az_count: int
    supported_az_ids: tuple[str, ...] | None
    nat_gateways: NatStrategy
    interface_endpoints: tuple[str, ...]

    @property
    def zone_count(self) -> int:
        return len(self.availability_zone_ids) if self.availability_zone_ids else self.az_count


@dataclass(frozen=True)
class ExecutorSettings:
    cpu: int
    memory: int
    architecture: Architecture
    max_sessions: int
    session_timeout_seconds: int
    internet_access: bool


@dataclass(frozen=True)
class AgentSettings:
    model_id: str
    idle_session_timeout_seconds: int
    max_lifetime_seconds: int
    platform_version: PlatformVersion = PlatformVersion.V1
    """agent.platformVersion: set on the runtime explicitly (components.runtime_platform)."""


@dataclass(frozen=True)
class ImageSettings:
    build: ImageBuild
    executor_image: str | None
    agent_image: str | None
    keep_last: int


@dataclass(frozen=True)
class ArtifactSettings:
    expire_after_days: int


@dataclass(frozen=True)
class AlbSettings:
    deletion_protection: bool
    access_logs: bool


@dataclass(frozen=True)
class Settings:
    stack: str
    region: str
    network: NetworkSettings
    executor: ExecutorSettings
    agent: AgentSettings
    images: ImageSettings
    artifacts: ArtifactSettings
    alb: AlbSettings
    log_retention_days: int
    retain_data: bool
    tags: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def resource_tags(self) -> ResourceTags:
        return ResourceTags(
            common=MappingProxyType({**self.tags, STACK_TAG: self.stack}), prefix=resource_prefix(self.stack)
        )


@dataclass(frozen=True)
class ResourceTags:
    """The tags every taggable resource carries: the user's, ``deep-insight:stack``, and a Name."""

    common: Mapping[str, str]
    prefix: str

    @property
    def stack(self) -> str:
        return self.common[STACK_TAG]

    def named(self, name: str, **extra: str) -> dict[str, str]:
        return {**self.common, **extra, "Name": f"{self.prefix}-{name}"}


# --- raw value parsers: each returns the typed value or raises _Invalid("<what is wrong>; <the fix>") ---


class _Invalid(ValueError):
    pass


_INVALID = object()  # marks a key whose own check failed, so rules that combine keys skip it


def _shown(raw: str) -> str:
    return repr(raw if len(raw) <= 80 else raw[:77] + "...")


def _integer(raw: str, allowed: range, hint: str | None = None) -> int:
    hint = hint or f"use {allowed.start}..{allowed.stop - 1}"
    try:
        value = int(raw.strip())
    except ValueError:
        raise _Invalid(f"{_shown(raw)} is not a whole number; {hint}") from None
    if value not in allowed:
        raise _Invalid(f"{value} is out of range; {hint}")
    return value


def _boolean(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise _Invalid(f"{_shown(raw)} is not a boolean; use true or false")


def _choice(enum: type[Enum]) -> Callable[[str], Any]:
    def parse(raw: str) -> Any:
        for member in enum:
            if raw == member.value:
                return member
        choices = " | ".join(str(m.value) for m in enum)
        close = [str(m.value) for m in enum if str(m.value).lower() == raw.strip().lower()]
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise _Invalid(f"{_shown(raw)} is not allowed{hint}; use {choices}")

    return parse


def _string_list(raw: str, what: str) -> list[str]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Invalid(f"{_shown(raw)} is not a list of {what}; write a YAML list in the stack file")
    return value


def _cidr(raw: str) -> ipaddress.IPv4Network:
    try:
        network = ipaddress.IPv4Network(raw.strip(), strict=True)
    except ipaddress.AddressValueError:
        raise _Invalid(f"{_shown(raw)} is not an IPv4 CIDR; use e.g. {DEFAULT_CIDR}") from None
    except ValueError:
        try:
            fixed = ipaddress.IPv4Network(raw.strip(), strict=False)
        except ValueError:
            raise _Invalid(f"{_shown(raw)} is not an IPv4 CIDR; use e.g. {DEFAULT_CIDR}") from None
        raise _Invalid(f"{_shown(raw)} has host bits set; use {fixed}") from None
    if network.prefixlen not in VPC_PREFIX_RANGE:
        raise _Invalid(
            f"{network} has prefix /{network.prefixlen}; use a prefix between /{VPC_PREFIX_RANGE.start} "
            f"and /{VPC_PREFIX_RANGE.stop - 1}, e.g. {DEFAULT_CIDR}"
        )
    if not network.is_private:
        raise _Invalid(f"{network} is not a private (RFC 1918) range; use e.g. {DEFAULT_CIDR}")
    return network


def _zone_ids(raw: str, what: str) -> tuple[str, ...]:
    ids = _string_list(raw, "AZ IDs")
    for zone in ids:
        if AZ_NAME_PATTERN.match(zone):
            raise _Invalid(
                f"{zone} is an AZ name; give AZ IDs such as use1-az1 (names map to different zones in "
                f"each account; `aws ec2 describe-availability-zones` lists both)"
            )
        if not AZ_ID_PATTERN.match(zone):
            raise _Invalid(f"{_shown(zone)} is not an AZ ID; AZ IDs look like use1-az1")
    duplicates = sorted({z for z in ids if ids.count(z) > 1})
    if duplicates:
        raise _Invalid(f"{', '.join(duplicates)} listed more than once; list each AZ ID once")
    if what == "use" and len(ids) < MIN_ZONES:
        raise _Invalid(f"{ids} has {len(ids)} AZ ID(s); list at least {MIN_ZONES} for high availability")
    if not ids:
        raise _Invalid("the list is empty; list the AZ IDs or remove the key to use the built-in table")
    return tuple(ids)


def _interface_endpoints(raw: str) -> tuple[str, ...]:
    services = _string_list(raw, "service suffixes")
    for service in services:
        if service in ("s3", "com.amazonaws.s3") or service.endswith(".s3"):
            raise _Invalid("s3 is always a gateway endpoint (free, on the private route tables); remove it")
        if service not in KNOWN_INTERFACE_ENDPOINTS:
            suggestion = difflib.get_close_matches(service, KNOWN_INTERFACE_ENDPOINTS, n=1)
            hint = f" (did you mean {suggestion[0]}?)" if suggestion else ""
            raise _Invalid(
                f"{_shown(service)} is not a known endpoint service{hint}; "
                f"use suffixes from: {', '.join(KNOWN_INTERFACE_ENDPOINTS)}"
            )
    duplicates = sorted({s for s in services if services.count(s) > 1})
    if duplicates:
        raise _Invalid(f"{', '.join(duplicates)} listed more than once; list each service once")
    return tuple(services)


def _image_uri(raw: str) -> str:
    value = raw.strip()
    if not DIGEST_URI_PATTERN.match(value):
        raise _Invalid(
            f"{_shown(raw)} is not digest-pinned; use <registry>/<repository>@sha256:<64 hex digits> "
            "(a tag can move, a digest cannot)"
        )
    if not ECR_URI_PATTERN.match(value):
        raise _Invalid(
            f"{_shown(raw)} is not in Amazon ECR; AgentCore runs only ECR images: use "
            "<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<digest>"
        )
    return value


def _model_id(raw: str) -> str:
    value = raw.strip()
    if not MODEL_ID_PATTERN.match(value):
        raise _Invalid(
            f"{_shown(raw)} is not a Bedrock model or inference-profile id; "
            "use e.g. us.anthropic.claude-sonnet-4-5-20250929-v1:0"
        )
    return value


def tag_text_problem(tag_key: str, tag_value: str) -> str | None:
    """One line naming the tag, its characters outside `TAG_CHARACTERS` and the allowed set; None if fine."""
    for part, text in (("key", tag_key), ("value", tag_value)):
        if not _TAG_TEXT.fullmatch(text):
            bad = sorted({c for c in text if not _TAG_TEXT.fullmatch(c)})
            shown = ", ".join(repr(c) for c in bad)
            return (
                f"tag {tag_key!r}: the {part} has {shown}, which not every tagged service accepts (AgentCore, "
                f"ELB, ECS, ...); use only {TAG_CHARACTERS_SHOWN}"
            )
    return None


def _tags(raw: str) -> dict[str, str]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _Invalid(f'{_shown(raw)} is not a map of strings; write a YAML map of key: "value"')
    for tag_key, tag_value in value.items():
        if len(tag_key) not in TAG_KEY_LENGTH or len(tag_value) not in TAG_VALUE_LENGTH:
            raise _Invalid(f"tag {tag_key!r}: keys are 1-128 characters and values 0-256; shorten it")
        problem = tag_text_problem(tag_key, tag_value)
        if problem:
            raise _Invalid(problem)
        if tag_key.lower().startswith("aws:"):
            raise _Invalid(f"tag {tag_key!r}: the aws: prefix is reserved by AWS; choose another key")
        if tag_key in (STACK_TAG, "Name"):
            raise _Invalid(f"tag {tag_key!r} is set by the program; remove it")
    if len(value) > MAX_USER_TAGS:
        raise _Invalid(f"{len(value)} tags given; AWS allows 50 per resource, so use at most {MAX_USER_TAGS}")
    return value


def _region(raw: str) -> str:
    value = raw.strip()
    if not REGION_PATTERN.match(value):
        raise _Invalid(f"{_shown(raw)} is not an AWS region name; use e.g. us-east-1")
    return value


def _log_retention(raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        value = None
    if value not in LOG_RETENTION_DAYS:
        nearest = min(LOG_RETENTION_DAYS, key=lambda d: abs(d - value)) if value is not None else 7
        raise _Invalid(
            f"{_shown(raw)} is not a CloudWatch retention value (nearest: {nearest}); "
            f"use one of {', '.join(map(str, LOG_RETENTION_DAYS))}"
        )
    return value


# Every key the program reads, with its parser and default (None: required or optional-without-default).
_SCHEMA: dict[str, tuple[Callable[[str], Any], str | None]] = {
    "network.cidr": (_cidr, DEFAULT_CIDR),
    "network.availabilityZoneIds": (lambda raw: _zone_ids(raw, "use"), None),
    "network.azCount": (
        lambda raw: _integer(raw, range(MIN_ZONES, 100), f"use {MIN_ZONES} up to the region's supported AZ count"),
        "2",
    ),
    "network.supportedAzIds": (lambda raw: _zone_ids(raw, "override"), None),
    "network.natGateways": (_choice(NatStrategy), NatStrategy.SINGLE.value),
    "network.interfaceEndpoints": (_interface_endpoints, json.dumps(list(DEFAULT_INTERFACE_ENDPOINTS))),
    "executor.cpu": (
        lambda raw: _integer(raw, range(1, 10**6), f"use one of {', '.join(map(str, FARGATE_MEMORY_BY_CPU))}"),
        "1024",
    ),
    "executor.memory": (lambda raw: _integer(raw, range(1, 10**7), "use MiB, e.g. 2048"), "2048"),
    "executor.architecture": (_choice(Architecture), Architecture.ARM64.value),
    "executor.maxSessions": (lambda raw: _integer(raw, MAX_SESSIONS_RANGE), "20"),
    "executor.sessionTimeoutSeconds": (lambda raw: _integer(raw, SESSION_TIMEOUT_RANGE), "3600"),
    "executor.internetAccess": (_boolean, "false"),
    "agent.modelId": (_model_id, None),
    "agent.idleSessionTimeoutSeconds": (lambda raw: _integer(raw, AGENTCORE_LIFECYCLE_RANGE), "900"),
    "agent.maxLifetimeSeconds": (lambda raw: _integer(raw, AGENTCORE_LIFECYCLE_RANGE), "28800"),
    "agent.platformVersion": (_choice(PlatformVersion), PlatformVersion.V1.value),
    "images.build": (_choice(ImageBuild), ImageBuild.LOCAL.value),
    "images.executorImage": (_image_uri, None),
    "images.agentImage": (_image_uri, None),
    "images.keepLast": (lambda raw: _integer(raw, range(1, 1001)), "10"),
    "artifacts.expireAfterDays": (lambda raw: _integer(raw, range(1, 3651)), "30"),
    "alb.deletionProtection": (_boolean, "false"),
    "alb.accessLogs": (_boolean, "false"),
    "logRetentionDays": (_log_retention, "7"),
    "retainData": (_boolean, "false"),
    "tags": (_tags, "{}"),
}
KNOWN_KEYS: tuple[str, ...] = tuple(key(name) for name in _SCHEMA)
REQUIRED_KEYS: tuple[str, ...] = (REGION_KEY, key("agent.modelId"))


def _unknown_key_problem(full_key: str) -> Problem:
    name = full_key.split(":", 1)[1]
    if name in {n.split(".", 1)[0] for n in _SCHEMA if "." in n}:
        return Problem(
            full_key,
            f"structured config is not read; set flat keys such as {key(name)}.<setting> "
            f"(`pulumi config set {name}.<setting> VALUE`, without --path)",
        )
    close = difflib.get_close_matches(full_key, KNOWN_KEYS, n=1, cutoff=0.75)
    hint = f"did you mean {close[0]}?" if close else f"known keys: {', '.join(KNOWN_KEYS)}"
    return Problem(full_key, f"unknown setting; {hint}")


def parse_settings(raw: Mapping[str, str], *, stack: str) -> Settings:
    """Validate the raw config of one stack; return `Settings` or raise `ConfigError` with all problems."""
    problems: list[Problem] = []
    values: dict[str, Any] = {}

    def problem(name: str, message: str) -> None:
        problems.append(Problem(key(name) if ":" not in name else name, message))

    for full_key in sorted(raw):
        if full_key.startswith(f"{PROJECT}:") and full_key not in KNOWN_KEYS:
            problems.append(_unknown_key_problem(full_key))

    region: str | None = None
    if not raw.get(REGION_KEY):
        problem(REGION_KEY, "required; set it with `pulumi config set aws:region us-east-1`")
    else:
        try:
            region = _region(raw[REGION_KEY])
        except _Invalid as error:
            problem(REGION_KEY, str(error))

    for name, (parse, default) in _SCHEMA.items():
        text = raw.get(key(name), default)
        if text is None:
            values[name] = None
            continue
        try:
            values[name] = parse(text)
        except _Invalid as error:
            values[name] = _INVALID
            problem(name, str(error))

    def ok(*names: str) -> bool:
        return all(values[n] is not _INVALID for n in names)

    # --- rules that involve more than one key ---
    if values["agent.modelId"] is None:
        problem(
            "agent.modelId",
            "required; set a Bedrock model or inference-profile id, e.g. "
            "`pulumi config set agent.modelId us.anthropic.claude-sonnet-4-5-20250929-v1:0`",
        )
    elif ok("agent.modelId") and region and values["agent.modelId"].startswith("arn:"):
        arn_region = values["agent.modelId"].split(":")[3]
        if arn_region != region:
            problem(
                "agent.modelId",
                f"the ARN is in {arn_region} but the stack deploys to {region}; use a model or profile ARN of {region}",
            )
    elif ok("agent.modelId") and region:
        geography = values["agent.modelId"].split(".", 1)[0]
        prefixes = PROFILE_GEOGRAPHIES.get(geography)
        if prefixes is not None and not any(region.startswith(p) for p in prefixes):
            problem(
                "agent.modelId",
                f"{values['agent.modelId']} is a {geography}. cross-region inference profile, which "
                f"{region} cannot invoke; use the profile for {region}'s geography or a global. profile",
            )

    if key("network.availabilityZoneIds") in raw and key("network.azCount") in raw:
        problem(
            "network.azCount",
            "set together with network.availabilityZoneIds, which decides the AZs; remove one of the two",
        )

    if ok("network.cidr", "network.availabilityZoneIds", "network.azCount"):
        zone_count = (
            len(values["network.availabilityZoneIds"])
            if values["network.availabilityZoneIds"]
            else values["network.azCount"]
        )
        try:
            carve_subnets(values["network.cidr"], zone_count)
        except ValueError as error:
            problem("network.cidr", str(error))

    if ok("network.natGateways", "network.interfaceEndpoints") and values["network.natGateways"] is NatStrategy.NONE:
        missing = [s for s in REQUIRED_WITHOUT_NAT if s not in values["network.interfaceEndpoints"]]
        if missing:
            problem(
                "network.interfaceEndpoints",
                f"natGateways is none, so the VPC has no way out but endpoints and needs "
                f"{', '.join(missing)}; add them or choose natGateways single",
            )

    if (
        ok("executor.internetAccess", "network.interfaceEndpoints")
        and not values["executor.internetAccess"]
        and values["network.natGateways"] is not NatStrategy.NONE
    ):
        # Fargate pulls the image and ships logs through the task's own ENI, i.e. the executor SG,
        # which without internet access reaches AWS only through endpoints.
        missing = [s for s in EXECUTOR_ENDPOINTS if s not in values["network.interfaceEndpoints"]]
        if missing:
            problem(
                "network.interfaceEndpoints",
                f"executor tasks have no internet access and need {', '.join(missing)} to pull their "
                "image and write logs; add them or set executor.internetAccess true",
            )

    if (
        ok("network.natGateways", "executor.internetAccess")
        and values["executor.internetAccess"]
        and values["network.natGateways"] is NatStrategy.NONE
    ):
        problem(
            "executor.internetAccess",
            "true needs a NAT gateway but network.natGateways is none; set natGateways to single or perAz",
        )

    if ok("executor.cpu", "executor.memory"):
        cpu, memory = values["executor.cpu"], values["executor.memory"]
        if cpu not in FARGATE_MEMORY_BY_CPU:
            problem(
                "executor.cpu",
                f"{cpu} is not a Fargate CPU value; use one of {', '.join(map(str, FARGATE_MEMORY_BY_CPU))}",
            )
        elif memory not in FARGATE_MEMORY_BY_CPU[cpu]:
            problem(
                "executor.memory",
                f"{memory} MiB is not valid with executor.cpu {cpu}; valid memories for {cpu}: "
                f"{', '.join(map(str, FARGATE_MEMORY_BY_CPU[cpu]))}",
            )

    if ok("agent.idleSessionTimeoutSeconds", "agent.maxLifetimeSeconds"):
        idle, lifetime = values["agent.idleSessionTimeoutSeconds"], values["agent.maxLifetimeSeconds"]
        if lifetime < idle:
            problem(
                "agent.maxLifetimeSeconds",
                f"{lifetime} is shorter than agent.idleSessionTimeoutSeconds {idle}; raise it to at least {idle}",
            )

    if ok("images.build"):
        uris = ("images.executorImage", "images.agentImage")
        if values["images.build"] is ImageBuild.PREBUILT:
            for name in uris:
                if values[name] is None:
                    problem(name, "required when images.build is prebuilt; give a digest-pinned image URI")
        else:
            for name in uris:
                if key(name) in raw:
                    problem(
                        name,
                        "only used when images.build is prebuilt; remove it, or set images.build prebuilt",
                    )

    if problems:
        raise ConfigError(problems)
    assert region is not None
    return Settings(
        stack=stack,
        region=region,
        network=NetworkSettings(
            cidr=values["network.cidr"],
            availability_zone_ids=values["network.availabilityZoneIds"],
            az_count=values["network.azCount"],
            supported_az_ids=values["network.supportedAzIds"],
            nat_gateways=values["network.natGateways"],
            interface_endpoints=values["network.interfaceEndpoints"],
        ),
        executor=ExecutorSettings(
            cpu=values["executor.cpu"],
            memory=values["executor.memory"],
            architecture=values["executor.architecture"],
            max_sessions=values["executor.maxSessions"],
            session_timeout_seconds=values["executor.sessionTimeoutSeconds"],
            internet_access=values["executor.internetAccess"],
        ),
        agent=AgentSettings(
            model_id=str(values["agent.modelId"]),  # required: a missing one is a problem above
            idle_session_timeout_seconds=values["agent.idleSessionTimeoutSeconds"],
            max_lifetime_seconds=values["agent.maxLifetimeSeconds"],
            platform_version=values["agent.platformVersion"],
        ),
        images=ImageSettings(
            build=values["images.build"],
            executor_image=values["images.executorImage"],
            agent_image=values["images.agentImage"],
            keep_last=values["images.keepLast"],
        ),
        artifacts=ArtifactSettings(expire_after_days=values["artifacts.expireAfterDays"]),
        alb=AlbSettings(
            deletion_protection=values["alb.deletionProtection"],
            access_logs=values["alb.accessLogs"],
        ),
        log_retention_days=values["logRetentionDays"],
        retain_data=values["retainData"],
        tags=MappingProxyType(dict(values["tags"])),
    )


def read_settings() -> Settings:
    """Read this stack's settings from the running Pulumi program (raises `ConfigError`)."""
    # pulumi.Config reads one key at a time; typo detection needs them all, so read the same maps it
    # reads: what the language host was handed, then PULUMI_CONFIG from the environment.
    everything: dict[str, Any] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    raw = {
        k: v if isinstance(v, str) else json.dumps(v)
        for k, v in everything.items()
        if k.startswith(f"{PROJECT}:") or k == REGION_KEY
    }
    return parse_settings(raw, stack=pulumi.get_stack())
