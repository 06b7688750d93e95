"""Executor cluster, roles, log group and task definition under mocks."""

from __future__ import annotations

import json

import pytest

from components.aws_facts import FARGATE_MEMORIES
from components.cluster import WORKER_MEMORY_SHARE
from components.settings_schema import SETTINGS
from tests.conftest import key

TASK = "aws:ecs/taskDefinition:TaskDefinition"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def container_of(evaluation) -> dict:
    (container,) = json.loads(evaluation.named("executor-task", TASK).inputs["containerDefinitions"])
    return container


def test_cluster_has_container_insights_and_both_fargate_providers(dev):
    cluster = dev.named("executor-cluster", "aws:ecs/cluster:Cluster")
    assert cluster.inputs["name"] == "deep-insight-dev"
    assert {"name": "containerInsights", "value": "enabled"} in cluster.inputs["settings"]
    providers = dev.named("executor-capacity", "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders").inputs
    assert providers["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    assert providers["clusterName"] == "deep-insight-dev"


@pytest.mark.parametrize(("stack", "days"), [("dev", 7), ("prod", 30)])
def test_log_group_keeps_the_configured_days(request, stack, days):
    evaluation = request.getfixturevalue(stack)
    log_group = evaluation.named("executor-logs", "aws:cloudwatch/logGroup:LogGroup")
    assert log_group.inputs["retentionInDays"] == days
    assert evaluation.outputs["executorLogGroup"] == f"/deep-insight/{stack}/executor"
    assert container_of(evaluation)["logConfiguration"]["options"]["awslogs-group"] == f"/deep-insight/{stack}/executor"


def test_task_definition_matches_the_settings(dev, evaluate_stack):
    task = dev.named("executor-task", TASK).inputs
    assert task["family"] == dev.outputs["executorTaskFamily"] == "deep-insight-dev-executor"
    assert task["requiresCompatibilities"] == ["FARGATE"]
    assert task["networkMode"] == "awsvpc"
    assert (task["cpu"], task["memory"]) == ("1024", "2048")
    assert task["runtimePlatform"] == {"operatingSystemFamily": "LINUX", "cpuArchitecture": "ARM64"}
    assert task["volumes"] == [{"name": "workspace"}, {"name": "tmp"}]
    bigger = evaluate_stack(
        "dev", {key("executor.cpu"): "2048", key("executor.memory"): "8192", key("executor.architecture"): "x86_64"}
    )
    task = bigger.named("executor-task", TASK).inputs
    assert (task["cpu"], task["memory"], task["runtimePlatform"]["cpuArchitecture"]) == ("2048", "8192", "X86_64")
    assert container_of(bigger)["memory"] == 8192
    assert {"name": "EXECUTOR_MEMORY_LIMIT_MB", "value": "6553"} in container_of(bigger)["environment"]


def test_container_is_hardened_and_health_checked(dev):
    container = container_of(dev)
    assert container["name"] == dev.outputs["executorContainerName"] == "executor"
    assert container["portMappings"] == [{"containerPort": 8080, "protocol": "tcp", "name": "http"}]
    assert container["readonlyRootFilesystem"] is True
    assert container["user"] == "10001:10001"
    assert {m["containerPath"] for m in container["mountPoints"]} == {"/workspace", "/tmp"}
    health = container["healthCheck"]
    assert health["command"][:3] == ["CMD", "python", "-c"]
    assert "http://127.0.0.1:8080/health" in health["command"][3]
    assert container["linuxParameters"] == {"initProcessEnabled": True}
    environment = {e["name"]: e["value"] for e in container["environment"]}
    assert environment == {
        "AWS_REGION": "us-east-1",
        "EXECUTOR_MEMORY_LIMIT_MB": "1638",
        "EXECUTOR_SESSION_TIMEOUT_SECONDS": "3600",
        "EXECUTOR_WORKDIR": "/workspace",
    }


def test_health_check_command_is_valid_python(dev):
    compile(container_of(dev)["healthCheck"]["command"][3], "<healthcheck>", "exec")


def test_roles_get_exactly_their_documents(dev):
    task = dev.named("executor-task", TASK).inputs
    roles = {r.state["arn"]: r for r in dev.of_type("aws:iam/role:Role")}
    execution_role = roles[task["executionRoleArn"]]
    assert execution_role.name == "executor-execution-role"
    trust = json.loads(execution_role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    # No task role (issue 12): code in the executor gets no AWS credentials; the agent presigns its URLs.
    assert "taskRoleArn" not in task
    # Besides it, only the role CodeBuild builds the image with (components.codebuild_image), not for tasks.
    assert sorted(r.name for r in roles.values() if "executor" in (r.name or "")) == [
        "executor-execution-role",
        "executor-image-codebuild-build-role",
    ]
    execution_policy = json.loads(dev.named("executor-execution-policy", ROLE_POLICY).inputs["policy"])
    repository = dev.named("executor-image-repository", "aws:ecr/repository:Repository").state["arn"]
    log_group = dev.named("executor-logs", "aws:cloudwatch/logGroup:LogGroup").state["arn"]
    # The actions of AmazonECSTaskExecutionRolePolicy that pull from ECR, on this repository only.
    assert execution_policy["Statement"] == [
        {"Sid": "EcrToken", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {
            "Sid": "PullExecutorImage",
            "Effect": "Allow",
            "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Resource": [repository],
        },
        {
            "Sid": "WriteExecutorLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"{log_group}:log-stream:*"],
        },
    ]
    assert not [p for p in dev.of_type(ROLE_POLICY) if p.name.startswith("executor-task")]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_replaced_task_definition_keeps_its_old_revision(request, stack):
    # A new executor image replaces the task definition; sessions of the previous runtime version still
    # RunTask the old family:revision, which Pulumi would deregister on replacement without skip_destroy.
    evaluation = request.getfixturevalue(stack)
    task = evaluation.named("executor-task", TASK).inputs
    assert task["skipDestroy"] is True


def test_the_smallest_fargate_task_still_runs_analysis_as_the_memory_note_says():
    """The executor.memory note promises every Fargate size works: the smallest task's worker limit is 409
    MiB, which tests/runtimes/executor/test_memory.py runs the reference job and a memory bomb at (as 410)."""
    smallest = min(FARGATE_MEMORIES)
    assert smallest == 512
    worker_mb = int(smallest * WORKER_MEMORY_SHARE)
    assert worker_mb == 409
    assert worker_mb >= 256  # the executor refuses an EXECUTOR_MEMORY_LIMIT_MB under 256 at start
    note = SETTINGS["executor.memory"].notes
    assert f"{WORKER_MEMORY_SHARE:.0%}" in note
    assert "the smallest, 512, gives 409 MiB" in note
