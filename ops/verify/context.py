"""What every ``verify`` check reads (`Context`) and returns (`Result`), and the small helpers they share.

A check is a function over a `Context` returning ``(ok, reason)``; each component module lists its checks
in a `CheckList`, and `ops.verify.registry` puts the lists in architecture order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from components.settings import Settings

Result = tuple[bool, str]
ClientFactory = Callable[[str, str], Any]
"""``(service, region) -> boto3 client``."""

# Interface endpoints and NAT gateways in these states are gone or going; AWS lists them for a while.
GONE_STATES = frozenset({"deleted", "deleting", "rejected", "failed", "expired"})


class Context:
    """What every check reads: the stack's outputs and settings, one boto3 client per service, and the
    lookups several checks share (cached properties: a failed lookup is not kept, so each check reports it)."""

    def __init__(self, stack: str, outputs: Mapping[str, Any], settings: Settings, clients: ClientFactory) -> None:
        self.stack = stack
        self.outputs = outputs
        self.settings = settings
        self.region: str = outputs["region"]
        self.vpc_id: str = outputs["vpcId"]
        self.private_subnets: list[str] = list(outputs["privateSubnetIds"])
        self.agent_subnets: list[str] = list(outputs["agentSubnetIds"])
        self.groups: Mapping[str, str] = outputs["securityGroupIds"]
        self._make_client = clients
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._make_client(service, self.region)
        return self._clients[service]

    def pages(self, service: str, operation: str, key: str, **kwargs: Any) -> list[Any]:
        paginator = self.client(service).get_paginator(operation)
        return [item for page in paginator.paginate(**kwargs) for item in page.get(key, [])]

    def in_vpc(self, operation: str, key: str) -> list[Any]:
        """An EC2 describe call for this VPC only, every page."""
        return self.pages("ec2", operation, key, Filters=[{"Name": "vpc-id", "Values": [self.vpc_id]}])

    @cached_property
    def subnets(self) -> dict[str, dict[str, Any]]:
        ids = self.private_subnets + self.agent_subnets
        return {s["SubnetId"]: s for s in self.pages("ec2", "describe_subnets", "Subnets", SubnetIds=ids)}

    @cached_property
    def route_tables(self) -> dict[str, dict[str, Any]]:
        return {t["RouteTableId"]: t for t in self.in_vpc("describe_route_tables", "RouteTables")}

    def table_of(self, subnet_id: str) -> dict[str, Any]:
        """The route table a subnet uses: its explicit association, else the VPC's main table."""
        tables = self.route_tables.values()
        associated = [t for t in tables for a in t.get("Associations", []) if a.get("SubnetId") == subnet_id]
        main = [t for t in tables for a in t.get("Associations", []) if a.get("Main")]
        return (associated or main or [{"RouteTableId": "none"}])[0]

    @cached_property
    def vpc_endpoints(self) -> list[dict[str, Any]]:
        endpoints = self.in_vpc("describe_vpc_endpoints", "VpcEndpoints")
        return [e for e in endpoints if str(e.get("State", "")).lower() not in GONE_STATES]

    @cached_property
    def vpc_groups(self) -> dict[str, str]:
        """Security group id → name, for every group in the VPC."""
        return {
            g["GroupId"]: g.get("GroupName", g["GroupId"])
            for g in self.in_vpc("describe_security_groups", "SecurityGroups")
        }

    @cached_property
    def rules(self) -> list[dict[str, Any]]:
        """Every rule of every security group in the VPC."""
        filters = [{"Name": "group-id", "Values": list(self.vpc_groups)}]
        return self.pages("ec2", "describe_security_group_rules", "SecurityGroupRules", Filters=filters)

    @cached_property
    def runtime(self) -> dict[str, Any]:
        control = self.client("bedrock-agentcore-control")
        return control.get_agent_runtime(agentRuntimeId=self.outputs["agentRuntimeId"])

    @cached_property
    def task_definition(self) -> dict[str, Any]:
        arn = self.outputs["executorTaskDefinitionArn"]
        return self.client("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"]

    def group_name(self, group_id: str) -> str:
        """Our role name (``agent``) for our groups, the group id otherwise."""
        return next((role for role, gid in self.groups.items() if gid == group_id), group_id)


@dataclass(frozen=True)
class Check:
    label: str
    run: Callable[[Context], Result]


class CheckList(list[Check]):
    """A component's checks in order of definition."""

    def add(self, label: str) -> Callable[[Callable[[Context], Result]], Callable[[Context], Result]]:
        """Register a check under ``label`` (a decorator)."""

        def register(function: Callable[[Context], Result]) -> Callable[[Context], Result]:
            self.append(Check(label, function))
            return function

        return register


def listing(items: Iterable[str]) -> str:
    return ", ".join(items) or "none"


def verdict(problems: Sequence[str], success: str) -> Result:
    return (False, "; ".join(problems)) if problems else (True, success)


def short_digest(uri: str) -> str:
    """``sha256:`` and 12 hex digits, as `docker images --digests` abbreviates."""
    return uri.rpartition("@")[2][:19]


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
