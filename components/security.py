"""The four security groups (agent, alb, executor, endpoints) and every path between them.

All groups start with no rules at all (the AWS provider removes the default allow-all egress), and
each allowed path is opened by a named method that writes both halves of it: the egress rule on the
source group and, when the peer is a group of ours, the ingress rule on the target group. Rules are
separate ``aws.vpc.SecurityGroup{Ingress,Egress}Rule`` resources, one port each, with a description.

`paths` is the pure decision of which paths exist; the component only wires them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import pulumi
import pulumi_aws as aws
from deep_insight_contract.tags import RETAINED_TAG
from deep_insight_contract.target_group import EXECUTOR_PORT

from components.network import RETAINED_REASON
from components.settings import ResourceTags

INTERNET = "0.0.0.0/0"


class Group(StrEnum):
    AGENT = "agent"
    ALB = "alb"
    EXECUTOR = "executor"
    ENDPOINTS = "endpoints"


class Peer(StrEnum):
    """Destinations that are not groups of ours."""

    S3 = "s3-prefix-list"
    INTERNET = "internet"


@dataclass(frozen=True)
class Path:
    source: Group
    target: Group | Peer
    port: int
    why: str

    @property
    def slug(self) -> str:
        return f"{self.source.value}-to-{self.target.value}-{self.port}"


def paths(*, nat: bool, executor_internet_access: bool) -> tuple[Path, ...]:
    """Every network path the system needs, and no other."""
    needed = [
        Path(Group.AGENT, Group.ALB, 80, "agent calls the executor of its session through the internal ALB"),
        Path(Group.ALB, Group.EXECUTOR, EXECUTOR_PORT, "ALB forwards to executor tasks and health-checks them"),
        Path(Group.AGENT, Group.ENDPOINTS, 443, "agent calls AWS APIs through interface endpoints"),
        Path(Group.EXECUTOR, Group.ENDPOINTS, 443, "executor pulls its image, writes logs via endpoints"),
        Path(Group.AGENT, Peer.S3, 443, "agent reads and writes artifacts via the S3 gateway endpoint"),
        Path(Group.EXECUTOR, Peer.S3, 443, "executor syncs files and pulls image layers via S3 gateway"),
    ]
    if nat:
        needed.append(Path(Group.AGENT, Peer.INTERNET, 443, "agent reaches AWS APIs without an endpoint via NAT"))
    if executor_internet_access:
        needed += [
            Path(Group.EXECUTOR, Peer.INTERNET, 443, "executor.internetAccess: HTTPS out via NAT"),
            Path(Group.EXECUTOR, Peer.INTERNET, 80, "executor.internetAccess: HTTP out via NAT"),
        ]
    return tuple(needed)


@dataclass(frozen=True)
class SecurityArgs:
    vpc_id: pulumi.Input[str]
    s3_prefix_list_id: pulumi.Input[str]
    nat: bool
    executor_internet_access: bool
    tags: ResourceTags


class SecurityGroups(pulumi.ComponentResource):
    group_ids: Mapping[Group, pulumi.Output[str]]

    def __init__(self, name: str, args: SecurityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("deep-insight:security:SecurityGroups", name, None, opts)
        self._name = name
        self._s3_prefix_list_id = args.s3_prefix_list_id
        self._tags = args.tags
        descriptions = {
            Group.AGENT: "Deep Insight AgentCore runtime ENIs",
            Group.ALB: "Deep Insight internal ALB in front of executor tasks",
            Group.EXECUTOR: "Deep Insight code-executor Fargate tasks",
            Group.ENDPOINTS: "Deep Insight VPC interface endpoints",
        }
        self._groups: dict[Group, aws.ec2.SecurityGroup] = {}
        for group, description in descriptions.items():
            retained = group is Group.AGENT  # AgentCore's ENIs may hold it for hours after destroy
            self._groups[group] = aws.ec2.SecurityGroup(
                f"{name}-{group.value}",
                vpc_id=args.vpc_id,
                description=description,
                tags=args.tags.named(f"{group.value}-sg", **({RETAINED_TAG: RETAINED_REASON} if retained else {})),
                opts=pulumi.ResourceOptions(parent=self, retain_on_delete=retained),
            )

        for path in paths(nat=args.nat, executor_internet_access=args.executor_internet_access):
            self.allow(path)

        self.group_ids = {group: sg.id for group, sg in self._groups.items()}
        self.register_outputs({group.value: sg_id for group, sg_id in self.group_ids.items()})

    def allow(self, path: Path) -> None:
        """Open one path: egress on the source group and, for a group target, ingress on the target."""
        source = self._groups[path.source]
        child = pulumi.ResourceOptions(parent=self)
        common = {"ip_protocol": "tcp", "from_port": path.port, "to_port": path.port, "description": path.why}
        tags = self._tags.named(path.slug)
        if isinstance(path.target, Group):
            target = self._groups[path.target]
            aws.vpc.SecurityGroupIngressRule(
                f"{self._name}-{path.slug}-in",
                security_group_id=target.id,
                referenced_security_group_id=source.id,
                tags=tags,
                opts=child,
                **common,
            )
            peer: dict[str, pulumi.Input[str]] = {"referenced_security_group_id": target.id}
        elif path.target is Peer.S3:
            peer = {"prefix_list_id": self._s3_prefix_list_id}
        else:
            peer = {"cidr_ipv4": INTERNET}
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-{path.slug}-out",
            security_group_id=source.id,
            tags=tags,
            opts=child,
            **peer,
            **common,
        )
