"""Stack settings: every key of SPEC §4 read into one typed, immutable object and validated at once.

`parse_settings` is pure: it takes the raw config strings (what Pulumi hands the program: scalars as
text, lists and maps as JSON) and returns `Settings` or raises `ConfigError` listing *every* problem,
one line each, naming the key, the bad value and the fix. The keys are declared in
`components.settings_schema`, each value's parser in `components.settings_values`, the rules that combine
keys in `components.settings_rules`, and AWS's own tables in `components.aws_facts`. `read_settings` feeds
`parse_settings` from the running Pulumi program; the AWS provider's own ``aws:`` settings that the
program's dynamic resources follow are checked by `components.settings_aws`. Nothing here talks to AWS;
the AZ check that needs the account's AZ list lives in `components.zones` and runs right after.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import pulumi
from deep_insight_contract.tags import STACK_TAG

from components.aws_facts import (
    DIGEST_URI_PATTERN,
    ECR_URI_PATTERN,
    FARGATE_MEMORY_BY_CPU,
    LOG_RETENTION_DAYS,
    REGION_PATTERN,
)
from components.errors import ConfigError, Problem
from components.names import resource_prefix
from components.service_needs import interface_endpoints
from components.settings_aws import read_stack_aws
from components.settings_rules import RULES, Parsed
from components.settings_schema import (
    KNOWN_KEYS,
    PROJECT,
    REGION_KEY,
    REQUIRED_KEYS,
    SCHEMA,
    Architecture,
    EndpointZones,
    ImageBuild,
    NatStrategy,
    PlatformVersion,
    key,
)
from components.settings_values import Invalid, region_name, secret_marker, tag_text_problem

# The facts and schema names below are re-exported for the modules that import them from here.
__all__ = [
    "DIGEST_URI_PATTERN",
    "ECR_URI_PATTERN",
    "FARGATE_MEMORY_BY_CPU",
    "KNOWN_KEYS",
    "LOG_RETENTION_DAYS",
    "PROJECT",
    "REGION_KEY",
    "REGION_PATTERN",
    "REQUIRED_KEYS",
    "AgentSettings",
    "AlbSettings",
    "Architecture",
    "ArtifactSettings",
    "EndpointZones",
    "ExecutorSettings",
    "ImageBuild",
    "ImageSettings",
    "NatStrategy",
    "NetworkSettings",
    "ResourceTags",
    "Settings",
    "key",
    "parse_settings",
    "pulumi_config",
    "read_settings",
    "tag_text_problem",
]


@dataclass(frozen=True)
class NetworkSettings:
    cidr: ipaddress.IPv4Network
    availability_zone_ids: tuple[str, ...] | None
    az_count: int
    supported_az_ids: tuple[str, ...] | None
    nat_gateways: NatStrategy
    extra_interface_endpoints: tuple[str, ...]
    """``network.interfaceEndpoints``: added to what the parts need (``Settings.interface_endpoints``)."""
    endpoint_zones: EndpointZones

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
    models: Mapping[str, str] = field(default_factory=dict)
    """agent.models: agent name -> model id; the agents it does not name use ``model_id``."""

    @property
    def model_ids(self) -> tuple[str, ...]:
        """Every model the agents may call: ``model_id`` first, then the others, each once."""
        return tuple(dict.fromkeys([self.model_id, *sorted(self.models.values())]))


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
    def interface_endpoints(self) -> tuple[str, ...]:
        """The stack's interface endpoints: what its parts need in its network mode, then the configured extras."""
        return interface_endpoints(
            nat=self.network.nat_gateways is not NatStrategy.NONE,
            executor_internet_access=self.executor.internet_access,
            extra=self.network.extra_interface_endpoints,
        )

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


def _unknown_key_problem(full_key: str) -> Problem:
    name = full_key.split(":", 1)[1]
    if name in {s.name.split(".", 1)[0] for s in SCHEMA if "." in s.name}:
        return Problem(
            full_key,
            f"structured config is not read; set flat keys such as {key(name)}.<setting> "
            f"(`pulumi config set {name}.<setting> VALUE`, without --path)",
        )
    close = difflib.get_close_matches(full_key, KNOWN_KEYS, n=1, cutoff=0.75)
    hint = f"did you mean {close[0]}?" if close else f"known keys: {', '.join(KNOWN_KEYS)}"
    return Problem(full_key, f"unknown setting; {hint}")


def looks_like_ours(namespace: str) -> bool:
    """A config namespace that is this project's name misspelled (``deepinsight``, ``Deep_Insight``)."""
    return namespace != PROJECT and namespace.lower().replace("_", "").replace("-", "") == PROJECT.replace("-", "")


def _secret_problem(full_key: str) -> Problem:
    name = full_key.split(":", 1)[1] if full_key.startswith(f"{PROJECT}:") else full_key
    return Problem(
        full_key,
        f"is a secret (secure:) but this setting is plain text; set it with `pulumi config set {name} VALUE` "
        "(without --secret)",
    )


def parse_settings(raw: Mapping[str, str], *, stack: str, secret_keys: Collection[str] = ()) -> Settings:
    """Validate the raw config of one stack; return `Settings` or raise `ConfigError` with all problems.

    A value that is a secret, still encrypted (``{"secure": ...}``, as a stack file holds it) or named in
    ``secret_keys`` (decrypted by the engine), is a problem: no setting here is a secret.
    """
    problems: list[Problem] = [
        _unknown_key_problem(full_key)
        for full_key in sorted(raw)
        if full_key.startswith(f"{PROJECT}:") and full_key not in KNOWN_KEYS
    ]
    problems += [
        Problem(full_key, f"{full_key.split(':', 1)[0]}: is not this project's namespace; did you mean {key(name)}?")
        for full_key in sorted(raw)
        if ":" in full_key and looks_like_ours(full_key.split(":", 1)[0])
        for name in [full_key.split(":", 1)[1]]
    ]

    region: str | None = None
    region_text = raw.get(REGION_KEY)
    if not region_text:
        problems.append(Problem(REGION_KEY, "required; set it with `pulumi config set aws:region us-east-1`"))
    elif secret_marker(region_text) or REGION_KEY in secret_keys:
        problems.append(_secret_problem(REGION_KEY))
    else:
        try:
            region = region_name(region_text)
        except Invalid as error:
            problems += [Problem(REGION_KEY, message) for message in error.messages]

    values: dict[str, Any] = {}
    for setting in SCHEMA:
        text = raw.get(setting.key, setting.default)
        if text is None:
            values[setting.name] = None
        elif secret_marker(text) or setting.key in secret_keys:
            problems.append(_secret_problem(setting.key))
        else:
            try:
                values[setting.name] = setting.parse(text)
            except Invalid as error:
                problems += [Problem(setting.key, message) for message in error.messages]

    parsed = Parsed(
        values=MappingProxyType(values),
        given=frozenset(s.name for s in SCHEMA if s.key in raw),
        region=region,
    )
    for rule in RULES:
        problems += rule(parsed)
    # The AWS provider's credential settings, as the program's own AWS calls will read them.
    problems += read_stack_aws(raw.get)[1]

    if problems:
        raise ConfigError(problems)
    assert region is not None
    return _settings(values, stack=stack, region=region)


def _settings(values: Mapping[str, Any], *, stack: str, region: str) -> Settings:
    return Settings(
        stack=stack,
        region=region,
        network=NetworkSettings(
            cidr=values["network.cidr"],
            availability_zone_ids=values["network.availabilityZoneIds"],
            az_count=values["network.azCount"],
            supported_az_ids=values["network.supportedAzIds"],
            nat_gateways=values["network.natGateways"],
            extra_interface_endpoints=values["network.interfaceEndpoints"],
            endpoint_zones=values["network.endpointZones"],
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
            models=values["agent.models"],
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


def pulumi_config() -> dict[str, str]:
    """Every config value the engine handed this program, as text, through Pulumi's public API only.

    `pulumi.Config` reads one key at a time, but typo detection needs the keys that are *set*. The
    language host passes all of them as the JSON object in ``PULUMI_CONFIG`` (read by the public
    `pulumi.runtime.get_config_env`); each value is then read with `pulumi.Config`, so secrets come back
    decrypted and anything set in-process (`pulumi.runtime.set_all_config`, as the offline evaluator
    does) wins. tests/components/test_settings_source.py fails if either public API changes.
    """
    keys = set(pulumi.runtime.get_config_env()) | set(KNOWN_KEYS) | {REGION_KEY}
    raw: dict[str, str] = {}
    for full_key in keys:
        namespace, _, name = full_key.partition(":")
        if (namespace not in (PROJECT, "aws") and not looks_like_ours(namespace)) or not name:
            continue
        value = pulumi.Config(namespace).get(name)
        if value is not None:
            raw[full_key] = value if isinstance(value, str) else json.dumps(value)
    return raw


def read_settings() -> Settings:
    """Read this stack's settings from the running Pulumi program (raises `ConfigError`)."""
    # PULUMI_CONFIG_SECRET_KEYS: the keys whose values the engine decrypted (public reader).
    secret_keys = set(pulumi.runtime.get_config_secret_keys_env())
    return parse_settings(pulumi_config(), stack=pulumi.get_stack(), secret_keys=secret_keys)
