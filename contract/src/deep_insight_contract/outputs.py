"""The stack outputs (SPEC §5): their names and shapes, defined once.

The Pulumi program exports exactly these, in this order (`in_contract_order`); the ops CLI reads them
and checks their shapes (`shape_problems`). A new output is one line here, plus its value in __main__.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypedDict, TypeVar, get_type_hints


class StackOutputs(TypedDict):
    """A deployed stack's outputs as ``pulumi stack output --json`` gives them (names are SPEC §5's)."""

    region: str
    vpcId: str
    availabilityZoneIds: list[str]
    privateSubnetIds: list[str]
    agentSubnetIds: list[str]
    securityGroupIds: dict[str, str]
    """Security group id by role: agent, alb, executor, endpoints."""
    endpointIds: dict[str, str]
    """VPC endpoint id by service."""
    albArn: str
    albDnsName: str
    listenerArn: str
    clusterName: str
    clusterArn: str
    executorTaskDefinitionArn: str
    executorTaskFamily: str
    executorContainerName: str
    executorLogGroup: str
    artifactBucket: str
    executorImageUri: str
    agentImageUri: str
    agentRuntimeArn: str
    agentRuntimeId: str
    agentRuntimeEndpointArn: str
    agentRoleArn: str
    agentLogGroup: str
    analystPolicyArn: str
    """The customer-managed policy that lets a person run jobs on the stack (invoke, console --stack)."""


def _is_string(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _is_string_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _is_string_map(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(item, str) for item in value.values())


# Each shape a field may have: its check, and how an error names it.
_SHAPES: dict[object, tuple[Callable[[object], bool], str]] = {
    str: (_is_string, "a non-empty string"),
    list[str]: (_is_string_list, "a list of strings"),
    dict[str, str]: (_is_string_map, "a map of strings"),
}

OUTPUT_SHAPES: Mapping[str, tuple[Callable[[object], bool], str]] = {
    name: _SHAPES[hint] for name, hint in get_type_hints(StackOutputs).items()
}
"""Output name -> (check, description), in the order of `StackOutputs`; fails at import on an unknown shape."""

OUTPUT_NAMES: tuple[str, ...] = tuple(OUTPUT_SHAPES)


def shape_problems(outputs: Mapping[str, object]) -> list[str]:
    """Every output that is missing or not of its shape, one phrase each (nothing for good outputs)."""
    missing = [name for name in OUTPUT_NAMES if name not in outputs]
    problems = [f"lacks {', '.join(missing)}"] if missing else []
    return problems + [
        f"{name} should be {description}"
        for name, (check, description) in OUTPUT_SHAPES.items()
        if name in outputs and not check(outputs[name])
    ]


T = TypeVar("T")


def in_contract_order(values: Mapping[str, T]) -> list[tuple[str, T]]:
    """``values`` as (name, value) in the order of `StackOutputs`; they must name exactly its outputs."""
    missing = [name for name in OUTPUT_NAMES if name not in values]
    unknown = sorted(set(values) - set(OUTPUT_NAMES))
    if missing or unknown:
        raise ValueError(
            "stack outputs differ from deep_insight_contract.outputs.StackOutputs: "
            + "; ".join(
                part
                for part in (
                    f"no value for {', '.join(missing)}" if missing else "",
                    f"not in the contract: {', '.join(unknown)}" if unknown else "",
                )
                if part
            )
        )
    return [(name, values[name]) for name in OUTPUT_NAMES]
