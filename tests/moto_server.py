"""moto as a real HTTP server on 127.0.0.1, for tests that talk to AWS APIs over the network."""

from __future__ import annotations

import contextlib
import json
import socket
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from moto.server import ThreadedMotoServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A fresh moto server (every service, one fake account); yields its endpoint URL, stops it after."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto's servers in one process share their backends: start from an empty account, whatever ran before.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).read()
    try:
        yield endpoint
    finally:
        server.stop()


def hold_ecs_tasks(endpoint: str) -> None:
    """Keep tasks RUNNING while a test looks at them: moto otherwise moves a task one state on at every
    DescribeTasks (RUNNING → DEACTIVATING → … → STOPPED)."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/state-manager/set-transition",
        data=json.dumps({"model_name": "ecs::task", "transition": {"progression": "manual", "times": 100000}}).encode(),
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).read()


@dataclass(frozen=True)
class ExecutorNetwork:
    """What the agent's ECS/ALB backend touches, created in moto: VPC, two subnets, executor SG, cluster,
    executor task definition, internal ALB with its HTTP :80 listener (default: fixed 404)."""

    vpc_id: str
    subnet_ids: tuple[str, ...]
    security_group_id: str
    cluster_arn: str
    task_definition_arn: str
    listener_arn: str
    alb_dns: str


def executor_network(
    ec2: Any,
    ecs: Any,
    elbv2: Any,
    *,
    cluster_name: str,
    family: str,
    container: str = "executor",
    alb_name: str = "alb",
    roles: Mapping[str, str] | None = None,
) -> ExecutorNetwork:
    """``roles``: optional ``taskRoleArn`` / ``executionRoleArn`` of the task definition."""
    vpc = ec2.create_vpc(CidrBlock="10.100.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # moto's RunTask needs it
    subnets = tuple(
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for cidr, zone in (("10.100.0.0/18", "us-east-1b"), ("10.100.64.0/18", "us-east-1c"))
    )
    group = ec2.create_security_group(GroupName="executor", Description="executor", VpcId=vpc)["GroupId"]
    cluster = ecs.create_cluster(clusterName=cluster_name)["cluster"]["clusterArn"]
    definition = ecs.register_task_definition(
        family=family,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="1024",
        memory="2048",
        containerDefinitions=[
            {"name": container, "image": "executor", "memory": 2048, "portMappings": [{"containerPort": 8080}]}
        ],
        **dict(roles or {}),
    )["taskDefinition"]["taskDefinitionArn"]
    balancer = elbv2.create_load_balancer(
        Name=alb_name, Subnets=list(subnets), SecurityGroups=[group], Scheme="internal", Type="application"
    )["LoadBalancers"][0]
    listener = elbv2.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {"StatusCode": "404", "ContentType": "application/json", "MessageBody": "{}"},
            }
        ],
    )["Listeners"][0]["ListenerArn"]
    return ExecutorNetwork(vpc, subnets, group, cluster, definition, listener, balancer["DNSName"])
