"""AgentCore Runtime platform versions and the environment budget of the runtime.

``agent.platformVersion`` is set explicitly on the runtime (pulumi-aws ``platform_version``): when omitted,
a new runtime gets V1 and an existing one keeps whatever it has, so the stack file would not say what runs.
V2 restores each instance from a prepared snapshot (consistent cold starts); AWS documents that its
environment variables have a smaller total size limit, but publishes no figure.

The limits checked here are the ones AWS's API model states for ``EnvironmentVariablesMap`` (read from
botocore's ``bedrock-agentcore-control`` model, not copied): at most 50 variables, names 1-100 characters,
values 0-5000 characters. They apply to both versions; V2's smaller total is not published, so it is
enforced by AWS at deploy time only (`budget_for` is where a published figure would go).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import botocore.session
import pulumi

from components.errors import Problem
from components.settings_schema import PlatformVersion

SERVICE = "bedrock-agentcore-control"
ENVIRONMENT_SHAPE = "EnvironmentVariablesMap"


@dataclass(frozen=True)
class EnvironmentBudget:
    max_variables: int
    name_length: range
    value_length: range
    max_total_bytes: int | None = None
    """Sum of names and values in UTF-8; None where AWS publishes no total."""


@functools.cache
def modelled_budget() -> EnvironmentBudget:
    """``EnvironmentVariablesMap`` as AWS's API model (botocore) states it."""
    model = botocore.session.get_session().get_service_model(SERVICE)
    shape: Any = model.shape_for(ENVIRONMENT_SHAPE)
    names, values = shape.key.metadata, shape.value.metadata
    return EnvironmentBudget(
        max_variables=shape.metadata["max"],
        name_length=range(names.get("min", 0), names["max"] + 1),
        value_length=range(values.get("min", 0), values["max"] + 1),
    )


def budget_for(version: PlatformVersion) -> EnvironmentBudget:
    # V2 has "a smaller total size limit" (AWS, pulumi-aws docs) with no published figure: the API model's
    # per-variable limits are the most that can be checked before deploying.
    return modelled_budget()


def environment_problems(
    environment: Mapping[str, str | None], version: PlatformVersion
) -> list[tuple[str | None, str]]:
    """What breaks the budget of ``version``, as (variable or None for the whole map, message).

    A None value is not known yet (an Output) and is not measured.
    """
    budget = budget_for(version)
    where = f"AgentCore {version.value} (botocore {SERVICE} {ENVIRONMENT_SHAPE})"
    problems: list[tuple[str | None, str]] = []
    if len(environment) > budget.max_variables:
        problems.append(
            (
                None,
                f"{len(environment)} agent environment variables; {where} allows at most "
                f"{budget.max_variables}: remove some or pass them as one JSON value",
            )
        )
    for name, value in sorted(environment.items()):
        if len(name) not in budget.name_length:
            low, high = budget.name_length.start, budget.name_length.stop - 1
            problems.append((name, f"variable name {name[:40]!r} is not {low}-{high} characters ({where}); rename it"))
        if value is not None and len(value) not in budget.value_length:
            problems.append(
                (
                    name,
                    f"{name} would be {len(value)} characters; {where} allows {budget.value_length.stop - 1}: "
                    "shorten the value",
                )
            )
    known = [(n, v) for n, v in environment.items() if v is not None]
    if budget.max_total_bytes is not None and len(known) == len(environment):
        total = sum(len(n.encode()) + len(v.encode()) for n, v in known)
        if total > budget.max_total_bytes:
            problems.append((None, f"{total} bytes of agent environment; {where} allows {budget.max_total_bytes}"))
    return problems


def environment_config_problems(
    known: Mapping[str, str | None],
    version: PlatformVersion,
    *,
    sources: Mapping[str, str],
    version_key: str,
) -> list[Problem]:
    """`environment_problems` of what settings alone decide, as configuration problems (before any resource).

    ``known``: every variable of the environment, None where a resource decides the value; ``sources``: the
    config key a variable's value comes from (the key a problem names); the rest name ``version_key``.
    """
    return [
        Problem(sources.get(name, version_key) if name else version_key, message)
        for name, message in environment_problems(known, version)
    ]


class EnvironmentBudgetError(pulumi.RunError):
    """The agent's environment exceeds the platform version's budget (one line per problem, no traceback)."""

    def __init__(self, problems: list[tuple[str | None, str]], version: PlatformVersion) -> None:
        lines = "\n".join(f"agent environment: {message}" for _, message in problems)
        super().__init__(f"the agent runtime's environment does not fit platform {version.value}:\n{lines}")


def checked_environment(
    environment: Mapping[str, pulumi.Input[str]], version: PlatformVersion
) -> pulumi.Output[dict[str, str]]:
    """The environment for the runtime, checked now for what is known and again once every value resolves."""
    static = {str(k): v if isinstance(v, str) else None for k, v in environment.items()}
    problems = environment_problems(static, version)
    if problems:
        raise EnvironmentBudgetError(problems, version)

    def check(resolved: dict[str, Any]) -> dict[str, str]:
        values = {name: str(value) for name, value in resolved.items()}
        late = environment_problems(values, version)
        if late:
            raise EnvironmentBudgetError(late, version)
        return values

    return pulumi.Output.from_input({str(k): v for k, v in environment.items()}).apply(check)
