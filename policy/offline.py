"""Run the pack's policies without the Pulumi CLI, on resources recorded offline (``ops.evaluate``).

The Pulumi engine hands a policy pack each resource as pulumi-policy ``ResourceValidationArgs`` (its
inputs and options) and the whole stack as ``StackValidationArgs`` (every resource's outputs, parents and
dependencies). This module builds the same arguments from recorded resources, with the props behind
pulumi-policy's own read-only proxies, and calls each policy's ``validate(args, report_violation)`` as
the pack's analyzer does. The tests use it; ``deep-insight plan`` can use it to show violations early.
Not used by the pack itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from .rules import POLICIES


class Recorded(Protocol):
    """What the policies need of one registered resource (``ops.evaluate.Declared`` has it all)."""

    @property
    def type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def urn(self) -> str: ...
    @property
    def parent(self) -> str: ...
    @property
    def inputs(self) -> Mapping[str, Any]: ...
    @property
    def state(self) -> Mapping[str, Any]: ...
    @property
    def protect(self) -> bool: ...
    @property
    def dependencies(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class Violation:
    policy: str
    urn: str
    message: str


def _plain(value: Any) -> Any:
    # The proxies wrap only real dicts and lists; recorded values may be other mappings and tuples.
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _props(values: Mapping[str, Any]) -> Mapping[str, Any]:
    return unknown_checking_proxy(_plain(values))


def _options(resource: Recorded) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=resource.protect,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=resource.parent or None,
    )


def resource_args(resource: Recorded) -> ResourceValidationArgs:
    """What the engine passes a resource policy: the resource's inputs and options."""
    return ResourceValidationArgs(
        resource_type=resource.type,
        props=_props(resource.inputs),
        urn=resource.urn,
        name=resource.name,
        opts=_options(resource),
        provider=None,
    )


def stack_args(resources: Iterable[Recorded]) -> StackValidationArgs:
    """What the engine passes a stack policy: every resource's outputs, linked to parent and dependencies."""
    recorded = list(resources)
    by_urn = {
        r.urn: PolicyResource(r.type, _props(r.state), r.urn, r.name, _options(r), None, None, [], {}) for r in recorded
    }
    for r in recorded:
        policy_resource = by_urn[r.urn]
        policy_resource.parent = by_urn.get(r.parent)
        policy_resource.dependencies = [by_urn[d] for d in r.dependencies if d in by_urn]
    return StackValidationArgs(list(by_urn.values()))


def _collector(sink: list[Violation], policy: str, urn: str) -> ReportViolation:
    def report(message: str, violating_urn: str | None = None) -> None:
        sink.append(Violation(policy, violating_urn or urn, message))

    return report


def run_policies(
    resources: Iterable[Recorded],
    policies: Iterable[ResourceValidationPolicy | StackValidationPolicy] = POLICIES,
) -> list[Violation]:
    """Every violation the policies report for these resources, in policy order."""
    recorded = list(resources)
    violations: list[Violation] = []
    for policy in policies:
        if isinstance(policy, StackValidationPolicy):
            policy.validate(stack_args(recorded), _collector(violations, policy.name, ""))
            continue
        for resource in recorded:
            policy.validate(resource_args(resource), _collector(violations, policy.name, resource.urn))
    return violations
