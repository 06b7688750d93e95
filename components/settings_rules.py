"""Rules that involve more than one setting, each a small function returning its problems.

A rule sees `Parsed`: the values whose own parse succeeded (a key that failed its own check is absent,
so no rule adds a second, derived error about it), which keys the stack file set, and the region.
`RULES` is the order they run in; each has its own test in tests/components/test_settings_rules.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from components.addressing import carve_subnets
from components.aws_facts import FARGATE_MEMORIES, FARGATE_MEMORY_BY_CPU, PROFILE_GEOGRAPHIES, is_ecr_public
from components.errors import Problem
from components.settings_schema import (
    ImageBuild,
    NatStrategy,
    key,
)


@dataclass(frozen=True)
class Parsed:
    values: Mapping[str, Any]
    """Setting name -> typed value (None: not set and no default); keys that failed their check are absent."""
    given: frozenset[str]
    """Setting names the stack file sets."""
    region: str | None
    """``aws:region`` if set and valid."""

    def ok(self, *names: str) -> bool:
        return all(n in self.values for n in names)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


def _problem(name: str, message: str) -> list[Problem]:
    return [Problem(key(name), message)]


def model_required(p: Parsed) -> list[Problem]:
    if p.ok("agent.modelId") and p["agent.modelId"] is None:
        return _problem(
            "agent.modelId",
            "required; set a Bedrock model or inference-profile id, e.g. "
            "`pulumi config set agent.modelId us.anthropic.claude-sonnet-4-5-20250929-v1:0`",
        )
    return []


def _region_problem(model: str, region: str) -> str | None:
    if model.startswith("arn:"):
        arn_region = model.split(":")[3]
        if arn_region != region:
            return (
                f"the ARN is in {arn_region} but the stack deploys to {region}; use a model or profile ARN of {region}"
            )
        return None
    geography = model.split(".", 1)[0]
    prefixes = PROFILE_GEOGRAPHIES.get(geography)
    if prefixes is not None and not any(region.startswith(prefix) for prefix in prefixes):
        return (
            f"{model} is a {geography}. cross-region inference profile, which {region} cannot invoke; "
            f"use the profile for {region}'s geography or a global. profile"
        )
    return None


def model_in_region(p: Parsed) -> list[Problem]:
    """A model ARN must be in the stack's region; a geography profile (us., eu., ...) must cover it. The same
    for every model of agent.models."""
    if p.region is None:
        return []
    problems = []
    model = p["agent.modelId"] if p.ok("agent.modelId") else None
    if model is not None and (problem := _region_problem(str(model), p.region)):
        problems += _problem("agent.modelId", problem)
    if p.ok("agent.models"):
        for agent, model in p["agent.models"].items():
            if problem := _region_problem(model, p.region):
                problems += _problem("agent.models", f"{agent}: {problem}")
    return problems


def zones_chosen_once(p: Parsed) -> list[Problem]:
    if {"network.availabilityZoneIds", "network.azCount"} <= p.given:
        return _problem(
            "network.azCount",
            "set together with network.availabilityZoneIds, which decides the AZs; remove one of the two",
        )
    return []


def cidr_fits_zones(p: Parsed) -> list[Problem]:
    if not p.ok("network.cidr", "network.availabilityZoneIds", "network.azCount"):
        return []
    ids = p["network.availabilityZoneIds"]
    zone_count = len(ids) if ids else p["network.azCount"]
    try:
        carve_subnets(p["network.cidr"], zone_count)
    except ValueError as error:
        return _problem("network.cidr", str(error))
    return []


def internet_needs_nat(p: Parsed) -> list[Problem]:
    if (
        p.ok("network.natGateways", "executor.internetAccess")
        and p["executor.internetAccess"]
        and p["network.natGateways"] is NatStrategy.NONE
    ):
        return _problem(
            "executor.internetAccess",
            "true needs a NAT gateway but network.natGateways is none; set natGateways to single or perAz",
        )
    return []


def fargate_task_size(p: Parsed) -> list[Problem]:
    """cpu and memory are each judged against Fargate's table, so both are reported when both are wrong."""
    problems: list[Problem] = []
    cpu = p["executor.cpu"] if p.ok("executor.cpu") else None
    memory = p["executor.memory"] if p.ok("executor.memory") else None
    if cpu is not None and cpu not in FARGATE_MEMORY_BY_CPU:
        problems += _problem(
            "executor.cpu",
            f"{cpu} is not a Fargate CPU value; use one of {', '.join(map(str, FARGATE_MEMORY_BY_CPU))}",
        )
        cpu = None
    if memory is None:
        return problems
    if cpu is not None and memory not in FARGATE_MEMORY_BY_CPU[cpu]:
        problems += _problem(
            "executor.memory",
            f"{memory} MiB is not valid with executor.cpu {cpu}; valid memories for {cpu}: "
            f"{', '.join(map(str, FARGATE_MEMORY_BY_CPU[cpu]))}",
        )
    elif cpu is None and memory not in FARGATE_MEMORIES:
        problems += _problem(
            "executor.memory",
            f"{memory} MiB is not a Fargate task memory for any cpu; use a memory of the chosen cpu's row "
            "in Fargate's task-size table (e.g. 2048 with cpu 1024)",
        )
    return problems


def lifetime_covers_idle(p: Parsed) -> list[Problem]:
    if not p.ok("agent.idleSessionTimeoutSeconds", "agent.maxLifetimeSeconds"):
        return []
    idle, lifetime = p["agent.idleSessionTimeoutSeconds"], p["agent.maxLifetimeSeconds"]
    if lifetime < idle:
        return _problem(
            "agent.maxLifetimeSeconds",
            f"{lifetime} is shorter than agent.idleSessionTimeoutSeconds {idle}; raise it to at least {idle}",
        )
    return []


def public_executor_image_needs_nat(p: Parsed) -> list[Problem]:
    """ECR Public has no VPC endpoint: Fargate tasks in private subnets reach it only through NAT."""
    if not p.ok("images.executorImage", "network.natGateways") or p["images.executorImage"] is None:
        return []
    if is_ecr_public(p["images.executorImage"]) and p["network.natGateways"] is NatStrategy.NONE:
        return _problem(
            "images.executorImage",
            "is in ECR Public, which has no VPC endpoint, so executor tasks cannot pull it with "
            "network.natGateways none; copy it into a private ECR repository or set network.natGateways single",
        )
    return []


def images_match_build(p: Parsed) -> list[Problem]:
    if not p.ok("images.build"):
        return []
    problems: list[Problem] = []
    for name in ("images.executorImage", "images.agentImage"):
        if p["images.build"] is ImageBuild.PREBUILT:
            if p.ok(name) and p[name] is None:
                problems += _problem(name, "required when images.build is prebuilt; give a digest-pinned image URI")
        elif name in p.given:
            problems += _problem(
                name, "only used when images.build is prebuilt; remove it, or set images.build prebuilt"
            )
    return problems


RULES: tuple[Callable[[Parsed], list[Problem]], ...] = (
    model_required,
    model_in_region,
    zones_chosen_once,
    cidr_fits_zones,
    internet_needs_nat,
    fargate_task_size,
    lifetime_covers_idle,
    images_match_build,
    public_executor_image_needs_nat,
)
