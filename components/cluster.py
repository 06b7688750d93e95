"""The executor's ECS cluster, its execution role, its log group and its Fargate task definition.

No service runs here: the agent starts one task per job session with ``ecs:RunTask`` and stops it at
the end. The task execution role can pull the executor image and write the executor log group and
nothing else. The task has no task role (``taskRoleArn`` is optional): the executor runs untrusted code,
so nothing in the task hands out AWS credentials. Files move through URLs the agent presigns for the
session's own keys (SPEC §6 sync; issue 12).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
from deep_insight_contract.environment import ExecutorEnv
from deep_insight_contract.target_group import EXECUTOR_PORT

from components.iam import (
    Statement,
    ecs_tasks_trust,
    executor_execution_policy,
    run_task_statements,
)
from components.role import role_with_policy
from components.runtime_contract import (
    EXECUTOR_CONTAINER,
    EXECUTOR_UID,
    EXECUTOR_WORKDIR,
    EXECUTOR_WRITABLE_PATHS,
)
from components.settings import Architecture, ResourceTags

# Python code in the worker may use this share of the task's memory; the rest keeps the server alive.
WORKER_MEMORY_SHARE = 0.8
HEALTH_CHECK_COMMAND = (
    "import sys, urllib.request; "
    f"sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:{EXECUTOR_PORT}/health', timeout=3).status == 200 else 1)"
)


def volume_name(container_path: str) -> str:
    """The task volume mounted at ``container_path``: ``/workspace`` -> ``workspace``."""
    return container_path.strip("/").replace("/", "-")


def executor_container_definitions(
    *,
    image_uri: str,
    region: str,
    log_group: str,
    memory: int,
    session_timeout_seconds: int,
) -> list[dict[str, Any]]:
    """The one container of the executor task (pure, so the tests read it as data)."""
    environment = {
        ExecutorEnv.WORKDIR: EXECUTOR_WORKDIR,
        ExecutorEnv.MEMORY_LIMIT_MB: str(int(memory * WORKER_MEMORY_SHARE)),
        ExecutorEnv.SESSION_TIMEOUT_SECONDS: str(session_timeout_seconds),
        ExecutorEnv.AWS_REGION: region,
    }
    return [
        {
            "name": EXECUTOR_CONTAINER,
            "image": image_uri,
            "essential": True,
            "memory": memory,
            "user": f"{EXECUTOR_UID}:{EXECUTOR_UID}",
            "readonlyRootFilesystem": True,
            "portMappings": [{"containerPort": EXECUTOR_PORT, "protocol": "tcp", "name": "http"}],
            "environment": [{"name": str(k), "value": v} for k, v in sorted(environment.items())],
            # Writable scratch on the task's ephemeral storage; everything else is read-only. The image
            # declares the same paths as VOLUMEs, which is what makes them writable for uid 10001.
            "mountPoints": [
                {"sourceVolume": volume_name(path), "containerPath": path, "readOnly": False}
                for path in EXECUTOR_WRITABLE_PATHS
            ],
            "healthCheck": {
                "command": ["CMD", "python", "-c", HEALTH_CHECK_COMMAND],
                "interval": 10,
                "timeout": 5,
                "retries": 3,
                "startPeriod": 15,
            },
            # tini as PID 1 reaps the workers' children and forwards SIGTERM for a graceful stop.
            "linuxParameters": {"initProcessEnabled": True},
            "stopTimeout": 30,
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": log_group,
                    "awslogs-region": region,
                    "awslogs-stream-prefix": EXECUTOR_CONTAINER,
                    # A burst of output from user code must not block the server on the log driver.
                    "mode": "non-blocking",
                    "max-buffer-size": "4m",
                },
            },
        }
    ]


@dataclass(frozen=True)
class ExecutorClusterArgs:
    region: str
    partition: str
    account_id: str
    image_uri: pulumi.Input[str]
    image_pull: pulumi.Input[list[Statement]]
    """What the task execution role needs to pull ``image_uri`` (the image's ``pull_statements``)."""
    cpu: int
    memory: int
    architecture: Architecture
    session_timeout_seconds: int
    log_retention_days: int
    tags: ResourceTags


class ExecutorCluster(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    cluster_arn: pulumi.Output[str]
    task_definition_arn: pulumi.Output[str]
    task_family: str
    container_name: str
    log_group_name: pulumi.Output[str]
    execution_role_arn: pulumi.Output[str]

    def run_task_statements(self) -> pulumi.Output[list[Statement]]:
        """Run executor tasks of this family in this cluster (tagged on create), describe, stop and list them,
        and pass the task's one role (its execution role) to ECS."""
        args = self._args
        return pulumi.Output.all(self.cluster_arn, self.execution_role_arn).apply(
            lambda v: run_task_statements(
                partition=args.partition,
                region=args.region,
                account_id=args.account_id,
                cluster_arn=v[0],
                task_family=self.task_family,
                role_arns=(v[1],),
            )
        )

    def execution_role_statements(self) -> pulumi.Output[list[Statement]]:
        """Every statement of the task execution role: what Fargate does for the task (image pull, log writes)."""
        return self._execution_policy.apply(lambda policy: list(policy["Statement"]))

    def __init__(self, name: str, args: ExecutorClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("deep-insight:cluster:ExecutorCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = args.tags
        self._args = args
        self.task_family = f"{tags.prefix}-executor"
        self.container_name = EXECUTOR_CONTAINER

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/deep-insight/{tags.stack}/executor",
            retention_in_days=args.log_retention_days,
            tags=tags.named("executor-logs"),
            opts=child,
        )
        cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            name=tags.prefix,
            settings=[{"name": "containerInsights", "value": "enabled"}],
            tags=tags.named("cluster"),
            opts=child,
        )
        aws.ecs.ClusterCapacityProviders(
            f"{name}-capacity",
            cluster_name=cluster.name,
            capacity_providers=["FARGATE", "FARGATE_SPOT"],
            default_capacity_provider_strategies=[{"capacity_provider": "FARGATE", "weight": 1, "base": 0}],
            opts=child,
        )

        self._execution_policy = pulumi.Output.all(args.image_pull, log_group.arn).apply(
            lambda v: executor_execution_policy(image_pull=v[0], log_group_arn=v[1])
        )
        trust = ecs_tasks_trust(partition=args.partition, region=args.region, account_id=args.account_id)
        execution_role, _ = role_with_policy(
            f"{name}-execution",
            description="ECS starts the Deep Insight executor: pull its image, write its logs",
            trust=trust,
            policy=self._execution_policy,
            tags=tags,
            tag_name="executor-execution-role",
            parent=self,
        )

        containers = pulumi.Output.all(args.image_uri, log_group.name).apply(
            lambda v: json.dumps(
                executor_container_definitions(
                    image_uri=v[0],
                    region=args.region,
                    log_group=v[1],
                    memory=args.memory,
                    session_timeout_seconds=args.session_timeout_seconds,
                )
            )
        )
        task_definition = aws.ecs.TaskDefinition(
            f"{name}-task",
            family=self.task_family,
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(args.cpu),
            memory=str(args.memory),
            runtime_platform={
                "operating_system_family": "LINUX",
                "cpu_architecture": "ARM64" if args.architecture is Architecture.ARM64 else "X86_64",
            },
            execution_role_arn=execution_role.arn,
            container_definitions=containers,
            volumes=[{"name": volume_name(path)} for path in EXECUTOR_WRITABLE_PATHS],
            tags=tags.named("executor-task"),
            # A new image replaces the task definition; without skip_destroy the old revision would be
            # deregistered, and sessions of the previous runtime version (still pinned to it) could not RunTask.
            skip_destroy=True,
            opts=child,
        )

        self.cluster_name = cluster.name
        self.cluster_arn = cluster.arn
        self.task_definition_arn = task_definition.arn
        self.log_group_name = log_group.name
        self.execution_role_arn = execution_role.arn
        self.register_outputs(
            {
                "clusterName": self.cluster_name,
                "clusterArn": self.cluster_arn,
                "taskDefinitionArn": self.task_definition_arn,
                "taskFamily": self.task_family,
                "logGroup": self.log_group_name,
            }
        )
