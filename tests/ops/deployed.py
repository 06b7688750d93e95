"""A deployed stack in moto: what `pulumi up` of a stack creates, made with boto3, and its outputs.

`deploy("dev")` evaluates the real program for ``Pulumi.dev.yaml`` (`ops.evaluate`, under Pulumi's mocks)
and creates every resource it declares in moto, with the declared inputs and moto's ids in place of the
mock's (tests/ops/translate.py); the outputs are the program's own stack outputs, with moto's ids. So the
stack in moto is what the program declares, not what a copy of its helpers computes: a wrong subnet plan
or a missing security group rule in the program reaches `verify` as it would from AWS.

`Faults` holds the departures from a healthy stack that AWS (or moto) only allows at creation: each is an
edit of the evaluated resources' inputs before they are applied, or a skipped step. Everything else a
test breaks afterwards with boto3, as drift would.

Where moto differs from AWS, the stand-in is documented at the spot (tests/ops/translate_*.py):
* ``create_service_linked_role`` in moto names the role ``AWSServiceRoleForbedrock-agentcore_Network``,
  not AWS's ``AWSServiceRoleForBedrockAgentCoreNetwork``: the role is made with ``create_role`` under the
  service-linked path instead.
* AgentCore's ENIs are made with ``create_network_interface`` in the runtime's subnets behind its
  security groups, tagged ``AmazonBedrockAgentCoreManaged=true``: the one mark AgentCore's service-linked
  role must set (its managed policy allows CreateNetworkInterface only with that request tag), and what
  `ops.verify` keys on. Moto cannot fake the requester (its ENIs are never requester-managed).
* moto's ECR digest is a hash of the layer digests, not of the manifest; outputs use the digest ECR
  reports, as pulumi-docker's ``repo_digest`` does.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from deep_insight_agent.executor_session import target_group_name
from deep_insight_contract.outputs import OUTPUT_NAMES
from deep_insight_contract.session import ROUTING_HEADER, routing_key
from deep_insight_contract.tags import CREATED_TAG, SESSION_TAG, STACK_TAG
from deep_insight_contract.target_group import target_group_prefix

from ops.evaluate import Declared, Evaluation, evaluate
from tests.ops import translate_agentcore, translate_network, translate_services
from tests.ops.translate import Applied, Applier, Aws, apply, tag_list
from tests.ops.translate_agentcore import AGENTCORE_ENI_TAG, SERVICE_LINKED_ROLE
from tests.ops.translate_services import manifest

__all__ = [
    "AGENTCORE_ENI_TAG",
    "SERVICE_LINKED_ROLE",
    "Deployed",
    "Faults",
    "deploy",
    "leave_session",
    "manifest",
    "shared_session",
    "tag_list",
]

SUBNET = "aws:ec2/subnet:Subnet"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
CLUSTER = "aws:ecs/cluster:Cluster"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
AGENT_RUNTIME = "aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime"
LOG_RETENTION = "pulumi-python:dynamic/logs:RuntimeLogRetention"


@dataclass(frozen=True)
class Faults:
    """Ways to deploy a broken stack where the property cannot be changed after creation."""

    private_zone_ids: tuple[str, ...] | None = None
    """The private subnets (in the order of the privateSubnetIds output) go to these AZ IDs instead."""
    alb_scheme: str | None = None
    """The load balancer's scheme: ``internet-facing`` makes its ``internal`` input false."""
    container_insights: str | None = None
    """The cluster's containerInsights setting (moto lacks UpdateClusterSettings)."""
    architecture: str | None = None
    """The task definition's runtimePlatform.cpuArchitecture (AWS's ``X86_64``, ``ARM64``)."""
    executor_image_tag: str | None = None
    """The task definition's containers run their repository's image by this tag instead of by digest."""
    runtime_in_private_subnets: bool = False
    """The AgentCore runtime gets the privateSubnetIds (its ENIs follow) instead of its declared subnets."""
    private_dns_off: tuple[str, ...] = ()
    """Interface endpoints of these services created without private DNS (moto ignores ModifyVpcEndpoint's)."""
    service_linked_role: bool = True
    """False: AgentCore could not make its service-linked role (the deployer lacked the permission)."""
    agent_log_retention: bool = True
    """False: `pulumi up`'s log-retention step did not run (AgentCore's group not made yet, no retention)."""


@dataclass
class Deployed:
    outputs: dict[str, Any]
    private_route_tables: list[str]
    """The route table of each private subnet, in the order of privateSubnetIds."""
    s3_endpoint: str
    applied: list[Applied] = field(default_factory=list)
    """Every resource made, with the inputs it was made with (moto's ids)."""

    def write(self, path: Path) -> Path:
        """What `pulumi stack output --json > FILE` would write."""
        path.write_text(json.dumps(self.outputs, indent=2), encoding="utf-8")
        return path

    def inputs_of(self, type_token: str) -> dict[str, Any]:
        """The inputs the one resource of that type was made with."""
        (found,) = [a.inputs for a in self.applied if a.declared.type == type_token]
        return dict(found)


@functools.cache
def shared_session() -> boto3.session.Session:
    """One session for the whole test run: a new one parses every service model again (~0.2 s a client)."""
    return boto3.session.Session()


def shared_client(service: str, region: str) -> Any:
    """A client of the shared session, kept for the test run (making one costs ~0.1 s), one per endpoint:
    a client keeps the ``AWS_ENDPOINT_URL`` (the moto server) it was made with."""
    return _client(service, region, os.environ.get("AWS_ENDPOINT_URL"))


@functools.cache
def _client(service: str, region: str, _endpoint: str | None) -> Any:
    return shared_session().client(service, region_name=region)


@functools.cache
def evaluated(stack: str) -> Evaluation:
    """The program for ``stack``, evaluated once per test run (read-only: faults edit copies)."""
    evaluation = evaluate(stack)
    if evaluation.error is not None:
        raise AssertionError(f"the program does not evaluate for {stack}: {evaluation.error}")
    return evaluation


def with_faults(evaluation: Evaluation, faults: Faults) -> list[Declared]:
    """The evaluated resources with ``faults`` applied to copies of their inputs."""
    resources = list(evaluation.resources)
    outputs = evaluation.outputs

    def edit(type_token: str, change: Callable[[dict[str, Any], Declared], object], where=lambda r: True) -> None:
        matched = [i for i, r in enumerate(resources) if r.type == type_token and where(r)]
        if not matched:
            raise AssertionError(f"the fault finds no {type_token} to change")
        for index in matched:
            inputs = copy.deepcopy(dict(resources[index].inputs))
            change(inputs, resources[index])
            resources[index] = dataclasses.replace(resources[index], inputs=inputs)

    if faults.private_zone_ids is not None:
        zones = dict(zip(outputs["privateSubnetIds"], faults.private_zone_ids, strict=True))
        edit(SUBNET, lambda i, r: i.update(availabilityZoneId=zones[r.id]), where=lambda r: r.id in zones)
    if faults.alb_scheme is not None:
        edit(LOAD_BALANCER, lambda i, _: i.update(internal=faults.alb_scheme == "internal"))
    if faults.container_insights is not None:
        insights = [{"name": "containerInsights", "value": faults.container_insights}]
        edit(CLUSTER, lambda i, _: i.update(settings=insights))
    if faults.architecture is not None:
        edit(TASK_DEFINITION, lambda i, _: i["runtimePlatform"].update(cpuArchitecture=faults.architecture))
    if (tag := faults.executor_image_tag) is not None:
        edit(TASK_DEFINITION, lambda i, _: i.update(containerDefinitions=image_by_tag(i["containerDefinitions"], tag)))
    if faults.runtime_in_private_subnets:
        private = list(outputs["privateSubnetIds"])
        edit(AGENT_RUNTIME, lambda i, _: i["networkConfiguration"]["networkModeConfig"].update(subnets=private))
    for service in faults.private_dns_off:
        edit(
            VPC_ENDPOINT,
            lambda i, _: i.update(privateDnsEnabled=False),
            where=lambda r, s=service: str(r.inputs["serviceName"]).endswith(f".{s}"),
        )
    if not faults.agent_log_retention:
        resources = [r for r in resources if r.type != LOG_RETENTION]
    return resources


def image_by_tag(container_definitions: str, tag: str) -> str:
    """The containers' ``repository@digest`` images as ``repository:tag``."""
    containers = json.loads(container_definitions)
    for container in containers:
        container["image"] = f"{container['image'].split('@')[0]}:{tag}"
    return json.dumps(containers)


def appliers_for(resources: list[Declared]) -> dict[str, Applier]:
    """The appliers of the AWS types, and of each dynamic resource type declared: its own provider."""
    dynamic = {r.type: translate_agentcore.dynamic for r in resources if r.type.startswith("pulumi-python:dynamic/")}
    # The image build's own applier (translate_services) stands in for CodeBuild's side of the build.
    return {**dynamic, **translate_network.APPLIERS, **translate_services.APPLIERS, **translate_agentcore.APPLIERS}


def deploy(stack: str = "dev", faults: Faults = Faults()) -> Deployed:
    evaluation = evaluated(stack)
    resources = with_faults(evaluation, faults)
    aws = Aws(
        evaluation.config["aws:region"], shared_client, agentcore_creates_service_linked_role=faults.service_linked_role
    )
    translation = apply(resources, evaluation.invokes, appliers_for(resources), aws)
    outputs = translation.real(evaluation.outputs)
    assert set(outputs) == set(OUTPUT_NAMES), "the program must give every SPEC §5 output"
    tables = []
    for subnet in outputs["privateSubnetIds"]:
        found = aws.client("ec2").describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])
        tables.append(found["RouteTables"][0]["RouteTableId"])
    return Deployed(outputs, tables, outputs["endpointIds"]["s3"], translation.applied)


def leave_session(d: Deployed, session: str, age: timedelta, *, stack: str = "dev", task: bool = True) -> None:
    """What a crashed agent runtime leaves behind: a tagged target group, header rule and task."""
    out = d.outputs
    elbv2 = shared_session().client("elbv2", region_name=out["region"])
    created = (datetime.now(UTC) - age).strftime("%Y-%m-%dT%H:%M:%SZ")
    tags = {STACK_TAG: stack, SESSION_TAG: session, CREATED_TAG: created}
    group = elbv2.create_target_group(
        Name=target_group_name(target_group_prefix(stack), session), Protocol="HTTP", Port=8080,
        VpcId=out["vpcId"], TargetType="ip", Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )["TargetGroups"][0]["TargetGroupArn"]  # fmt: skip
    if not task:
        return
    taken = {r["Priority"] for r in elbv2.describe_rules(ListenerArn=out["listenerArn"])["Rules"]}
    elbv2.create_rule(
        ListenerArn=out["listenerArn"], Priority=next(p for p in range(1, 100) if str(p) not in taken),
        Conditions=[{"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": ROUTING_HEADER, "Values": [routing_key(session)]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": group}], Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )  # fmt: skip
    shared_session().client("ecs", region_name=out["region"]).run_task(
        cluster=out["clusterArn"], taskDefinition=out["executorTaskDefinitionArn"], launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": out["privateSubnetIds"], "securityGroups": [out["securityGroupIds"]["executor"]]}},
        tags=[{"key": k, "value": v} for k, v in tags.items()],
    )  # fmt: skip
