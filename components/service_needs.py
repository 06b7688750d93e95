"""Which AWS services each part of Deep Insight reaches from the VPC, and the interface endpoints that follow.

Each part reaches a service one of three ways: the S3 gateway endpoint (free, on every private route table),
an interface endpoint (billed per endpoint and AZ-hour), or a NAT gateway (when the stack has one and the part
may use it). The default interface endpoints are derived here from the parts' needs and the network mode, so
the stack pays for no endpoint that no part uses. The needs are checked against what the parts really do:
the agent's recorded AWS requests and the executor's task definition
(tests/components/test_iam_authorization.py, in every network mode).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

GATEWAY_SERVICES: frozenset[str] = frozenset({"s3"})
"""Services reached through a gateway endpoint: S3 is one on every private route table, whatever the mode."""


class Part(StrEnum):
    AGENT = "agent"
    """The AgentCore runtime's ENIs in the agent subnets (agent security group)."""
    EXECUTOR = "executor"
    """The executor's Fargate tasks in the private subnets (executor security group)."""


@dataclass(frozen=True)
class Need:
    part: Part
    service: str
    """The endpoint service suffix: com.amazonaws.<region>.<service>."""
    why: str


NEEDS: tuple[Need, ...] = (
    Need(Part.AGENT, "bedrock-runtime", "the model: ConverseStream"),
    Need(Part.AGENT, "ecs", "runs, describes, lists and stops each session's executor task"),
    Need(Part.AGENT, "elasticloadbalancing", "each session's target group and listener rule"),
    Need(Part.AGENT, "s3", "reads inputs, lists and reads artifacts; presigns the executor's transfers"),
    Need(Part.EXECUTOR, "ecr.api", "Fargate authenticates to ECR to pull the executor image"),
    Need(Part.EXECUTOR, "ecr.dkr", "Fargate pulls the executor image's manifest"),
    Need(Part.EXECUTOR, "s3", "Fargate pulls the image's layers; the executor follows presigned URLs"),
    Need(Part.EXECUTOR, "logs", "the awslogs driver writes the executor's log"),
)


def online_parts(*, nat: bool, executor_internet_access: bool) -> frozenset[Part]:
    """The parts whose security group lets them out through a NAT gateway (components.security.paths)."""
    if not nat:
        return frozenset()
    return frozenset({Part.AGENT, Part.EXECUTOR} if executor_internet_access else {Part.AGENT})


def needed_interface_endpoints(*, nat: bool, executor_internet_access: bool) -> tuple[str, ...]:
    """The interface endpoints the parts need: those of every part that cannot use a NAT gateway."""
    online = online_parts(nat=nat, executor_internet_access=executor_internet_access)
    return _unique(need.service for need in NEEDS if need.part not in online and need.service not in GATEWAY_SERVICES)


def interface_endpoints(*, nat: bool, executor_internet_access: bool, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The stack's interface endpoints: what the parts need, then ``network.interfaceEndpoints``'s additions."""
    return _unique([*needed_interface_endpoints(nat=nat, executor_internet_access=executor_internet_access), *extra])


def _unique(services: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(services))
