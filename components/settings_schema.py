"""Every stack setting, declared once: its key, parser, default and what the reference says about it.

Why plain records and not pydantic models: the input is Pulumi's flat map of *text* (``executor.cpu``
arrives as ``"1024"``, lists and maps as JSON), the keys are flat dotted names rather than nested
objects, and every message must read "<key>: <value> is ...; <fix>" in the project's words. With
pydantic each field would still need a custom ``BeforeValidator`` to parse the text and a translation of
its error list back into that shape, plus a nested model that the flat keys do not have; the gain (one
error per location, collected at once) is what `parse_settings` already does in a dozen lines. A tuple of
`Setting` records is also what the configuration reference (`components.settings_doc`) is generated from,
with no introspection of a model's JSON schema. So: plain frozen records, no new dependency.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from deep_insight_contract.tags import STACK_TAG

from components import settings_values as v
from components.aws_facts import (
    AGENTCORE_LIFECYCLE_RANGE,
    FARGATE_MEMORY_BY_CPU,
    LOG_RETENTION_DAYS,
    MAX_TAGS_PER_RESOURCE,
    TAG_KEY_LENGTH,
    TAG_VALUE_LENGTH,
)
from components.service_needs import needed_interface_endpoints

PROJECT = "deep-insight"
REGION_KEY = "aws:region"


def key(name: str) -> str:
    """The full config key of a project setting: ``key("network.cidr") == "deep-insight:network.cidr"``."""
    return f"{PROJECT}:{name}"


class NatStrategy(StrEnum):
    NONE = "none"
    SINGLE = "single"
    PER_AZ = "perAz"


class EndpointZones(StrEnum):
    ALL = "all"
    """An ENI per interface endpoint in every AZ of the stack: an AZ outage takes no endpoint with it (prod)."""
    ONE = "one"
    """One ENI per interface endpoint, in the stack's first AZ, which the other AZs reach across AZs (dev)."""


ENDPOINT_ZONES_TRADE_OFF = (
    "all: an endpoint ENI in every AZ, so an AZ outage takes no AWS API away (prod); one: a single ENI in the "
    "first AZ that the other AZs reach across AZs, for 1/N of the endpoint hours, and an outage of that AZ "
    "cuts every AZ off from those APIs (dev)"
)


class ImageBuild(StrEnum):
    CODEBUILD = "codebuild"
    LOCAL = "local"
    PREBUILT = "prebuilt"


class Architecture(StrEnum):
    ARM64 = "arm64"
    X86_64 = "x86_64"


class PlatformVersion(StrEnum):
    """AgentCore Runtime platform versions (`components.runtime_platform` says what each means)."""

    V1 = "V1"
    V2 = "V2"


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

DEFAULT_CIDR = "10.100.0.0/16"
MIN_ZONES = 2
MAX_SESSIONS_RANGE = range(1, 91)  # an ALB has 100 rules; keep headroom for the default and ops rules
SESSION_TIMEOUT_RANGE = range(300, 28801)
# The program adds Name and deep-insight:stack to every resource.
PROGRAM_TAGS: tuple[str, ...] = (STACK_TAG, "Name")
MAX_USER_TAGS = MAX_TAGS_PER_RESOURCE - len(PROGRAM_TAGS)


@dataclass(frozen=True)
class Setting:
    """One key of the stack file, as the program reads it and the reference documents it."""

    name: str
    """The key without the project namespace (``network.cidr``); `key()` gives the full one."""
    parse: Callable[[str], Any]
    """Raw text -> typed value, or `settings_values.Invalid` with every problem."""
    default: str | None
    """The raw text used when the key is absent; None: absent means "not set" (or required)."""
    allowed: str
    """The type and allowed values, for the reference."""
    notes: str = ""
    required: bool = False

    @property
    def key(self) -> str:
        return key(self.name)


def _listed(values: object) -> str:
    return ", ".join(map(str, values))  # type: ignore[call-overload]


_WITH_NAT = needed_interface_endpoints(nat=True, executor_internet_access=False)
_WITHOUT_NAT = needed_interface_endpoints(nat=False, executor_internet_access=False)


def _choices(enum: type[StrEnum]) -> str:
    return " \\| ".join(f"`{m.value}`" for m in enum)


SCHEMA: tuple[Setting, ...] = (
    Setting("network.cidr", v.cidr(DEFAULT_CIDR), DEFAULT_CIDR, "private IPv4 CIDR, /16../22",
            "The subnets are carved from it."),
    Setting("network.availabilityZoneIds", v.zone_ids("network.availabilityZoneIds", MIN_ZONES), None,
            f"list of AZ IDs (at least {MIN_ZONES})",
            "AZ IDs (use1-az1), not names; each must be AgentCore-supported in the region. Excludes azCount."),
    Setting("network.azCount",
            v.integer(range(MIN_ZONES, 100), f"use {MIN_ZONES} up to the region's supported AZ count"), "2",
            f"integer ≥ {MIN_ZONES}", "The first N AgentCore-supported AZs of the region."),
    Setting("network.supportedAzIds", v.zone_ids("network.supportedAzIds", 1), None, "list of AZ IDs",
            "Replaces the built-in AgentCore AZ table for this region (for regions AWS added later)."),
    Setting("network.natGateways", v.choice(NatStrategy), NatStrategy.SINGLE.value, _choices(NatStrategy),
            "`none`: no internet at all; every AWS API the parts use gets an interface endpoint."),
    Setting("network.interfaceEndpoints",
            v.interface_endpoints("network.interfaceEndpoints", KNOWN_INTERFACE_ENDPOINTS),
            "[]", f"list of: {_listed(KNOWN_INTERFACE_ENDPOINTS)}",
            "Added to the interface endpoints the parts need, which the program derives from the network mode "
            f"(with NAT, what the executor needs without internet: {_listed(_WITH_NAT)}; without NAT, also "
            f"{_listed([s for s in _WITHOUT_NAT if s not in _WITH_NAT])}). S3 is always a gateway endpoint and "
            "is not listed."),
    Setting("network.endpointZones", v.choice(EndpointZones, ENDPOINT_ZONES_TRADE_OFF), EndpointZones.ALL.value,
            _choices(EndpointZones), ENDPOINT_ZONES_TRADE_OFF + "."),
    Setting("executor.cpu", v.integer(range(1, 10**6), f"use one of {_listed(FARGATE_MEMORY_BY_CPU)}"), "1024",
            f"Fargate CPU units: {_listed(FARGATE_MEMORY_BY_CPU)}", "With executor.memory, a Fargate task size."),
    Setting("executor.memory", v.integer(range(1, 10**7), "use MiB, e.g. 2048"), "2048",
            "MiB, valid for executor.cpu",
            "Fargate's task-size table decides which memories go with a CPU. The agents' Python may use 80% of it "
            "(resident memory; more ends the call as WorkerCrashed). Every size works: the smallest, 512, "
            "gives 409 MiB, and the reference pandas + matplotlib job peaks at ~135 MiB."),
    Setting("executor.architecture", v.choice(Architecture), Architecture.ARM64.value, _choices(Architecture)),
    Setting("executor.maxSessions", v.integer(MAX_SESSIONS_RANGE), "20",
            f"{MAX_SESSIONS_RANGE.start}..{MAX_SESSIONS_RANGE.stop - 1}",
            "Concurrent executor sessions (one ALB rule each)."),
    Setting("executor.sessionTimeoutSeconds", v.integer(SESSION_TIMEOUT_RANGE), "3600",
            f"{SESSION_TIMEOUT_RANGE.start}..{SESSION_TIMEOUT_RANGE.stop - 1}",
            "The executor stops itself after this."),
    Setting("executor.internetAccess", v.boolean, "false", "`true` \\| `false`",
            "`false`: the executor security group has no 0.0.0.0/0 egress and needs the ecr.api, ecr.dkr, "
            "logs endpoints; `true` needs a NAT gateway."),
    Setting("agent.modelId", v.model_id, None, "Bedrock model or inference-profile id or ARN",
            "Required. A geography profile (us., eu., ...) must match the region; an ARN must be in it.",
            required=True),
    Setting("agent.models", v.agent_models, "{}", "map of agent: model id",
            "A model for some agents (planner, coder, validator, reporter), e.g. a smaller one for the planner "
            "or validator; the others use agent.modelId. Each is checked like agent.modelId and granted."),
    Setting("agent.idleSessionTimeoutSeconds", v.integer(AGENTCORE_LIFECYCLE_RANGE), "900",
            f"{AGENTCORE_LIFECYCLE_RANGE.start}..{AGENTCORE_LIFECYCLE_RANGE.stop - 1}"),
    Setting("agent.maxLifetimeSeconds", v.integer(AGENTCORE_LIFECYCLE_RANGE), "28800",
            f"{AGENTCORE_LIFECYCLE_RANGE.start}..{AGENTCORE_LIFECYCLE_RANGE.stop - 1}",
            "At least agent.idleSessionTimeoutSeconds."),
    Setting("agent.platformVersion", v.choice(PlatformVersion), PlatformVersion.V1.value, _choices(PlatformVersion),
            "Set on the runtime explicitly. The agent's environment is checked against botocore's model "
            "(≤ 50 variables, names 1-100, values ≤ 5000 characters); V2's smaller total is not published."),
    Setting("images.build", v.choice(ImageBuild), ImageBuild.CODEBUILD.value, _choices(ImageBuild),
            "`codebuild`: CodeBuild builds natively in the stack's account (AWS credentials only). `local`: "
            "this machine's Docker engine builds (it must build the target platform). "
            "`prebuilt` needs images.executorImage and images.agentImage."),
    Setting("images.executorImage", v.image_uri("executor (ECS Fargate)"), None,
            "ECR image URI pinned by digest",
            "Only with images.build prebuilt. Private ECR or ECR Public; ECR Public has no VPC endpoint, "
            "so Fargate pulls it through NAT (not with network.natGateways none)."),
    Setting("images.agentImage", v.image_uri("AgentCore Runtime"), None, "ECR image URI pinned by digest",
            "Only with images.build prebuilt. Private ECR or ECR Public (AgentCore pulls it itself)."),
    Setting("images.keepLast", v.integer(range(1, 1001)), "10", "1..1000",
            "ECR lifecycle rule: keep the last N images."),
    Setting("artifacts.expireAfterDays", v.integer(range(1, 3651)), "30", "1..3650",
            "Objects under sessions/ (inputs and artifacts) expire after this."),
    Setting("alb.deletionProtection", v.boolean, "false", "`true` \\| `false`"),
    Setting("alb.accessLogs", v.boolean, "false", "`true` \\| `false`", "`true`: access logs go to a private bucket."),
    Setting("logRetentionDays", v.log_retention, "7", f"one of {_listed(LOG_RETENTION_DAYS)}",
            "CloudWatch Logs retention."),
    Setting("retainData", v.boolean, "false", "`true` \\| `false`",
            "`true`: the ECR repositories and the artifacts bucket survive `pulumi destroy`, protected."),
    Setting("tags", v.tags("tags", PROGRAM_TAGS, MAX_USER_TAGS), "{}",
            f'map of key: "value" (at most {MAX_USER_TAGS})',
            "Added to every taggable resource with deep-insight:stack and Name; values must be quoted strings. "
            f"Keys {TAG_KEY_LENGTH.start}-{TAG_KEY_LENGTH.stop - 1} and values {TAG_VALUE_LENGTH.start}-"
            f"{TAG_VALUE_LENGTH.stop - 1} characters (CodeBuild's lengths) of A-Z a-z 0-9, space and "
            "_ . : / = + @ - (AgentCore's rule); no aws: keys."),
)  # fmt: skip
SETTINGS: dict[str, Setting] = {s.name: s for s in SCHEMA}
KNOWN_KEYS: tuple[str, ...] = tuple(s.key for s in SCHEMA)
REQUIRED_KEYS: tuple[str, ...] = (REGION_KEY, *(s.key for s in SCHEMA if s.required))
