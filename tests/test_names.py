"""Every name, tag, id and value the program or the agent sends, against AWS's own limits.

The limits come from the installed botocore (`tests.botocore_shapes`: each shape's ``pattern``, ``min`` and
``max``), or, where botocore models nothing, from the API reference rule cited in
`tests.botocore_shapes.DOCUMENTED`. Two kinds of check:

* the evaluated program (dev, prod and stacks with awkward names): every declared resource is walked, its
  tags checked against its own service's TagKey/TagValue shapes, and every name-like input checked by the
  rule of `NAME_CHECKS`; a resource type with a name-like input and no rule fails, so new resources are
  covered as they come;
* the functions that derive names from a stack name or a session id, on a broad sample of the stack
  names Pulumi allows (``[A-Za-z0-9_.-]{1,100}``) and of the session ids the contract accepts.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from deep_insight_agent.executor_session import target_group_name
from deep_insight_contract.session import ROUTING_HEADER, SESSION_ID_MAX, routing_key
from deep_insight_contract.tags import SESSION_TAG, STACK_TAG
from deep_insight_contract.target_group import SessionTargetGroupTemplate, target_group_prefix

from components.bucket import bucket_prefix
from components.names import resource_prefix
from components.runtime_contract import agentcore_runtime_name
from ops.evaluate import Evaluation, load_stack_config
from tests.botocore_shapes import (
    documented_problem,
    map_limits,
    member_limit,
    service_of,
    tag_limits,
)

Problem = Callable[[str], str | None]
AGENTCORE = "bedrock-agentcore-control"


def modelled(service: str, operation: str, *path: str) -> Problem:
    found = member_limit(service, operation, *path)
    assert found.modelled, f"botocore no longer models {service} {operation} {path}: cite the API docs instead"
    return found.problem


def documented(rule: str) -> Problem:
    return lambda value: documented_problem(rule, value)


def entries(service: str, operation: str, member: str) -> Problem:
    """A map member's entry count (the value checked is the count, as text)."""
    limit = map_limits(service, operation, member)[2]
    return lambda count: (
        limit.problem("x" * int(count)) and f"{count} entries are outside {limit.where}'s {limit.min}-{limit.max}"
    )


def _containers(inputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    return json.loads(inputs["containerDefinitions"])


def _docker_tag(inputs: Mapping[str, Any]) -> str:
    return str(inputs["imageName"]).rsplit(":", 1)[1]


# type token -> (what, how to read the values from the inputs, the rule) for every name-like input.
Reader = Callable[[Mapping[str, Any]], list[str]]
NAME_CHECKS: Mapping[str, list[tuple[str, Reader, Problem]]] = {
    "aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime": [
        ("agentRuntimeName", lambda i: [i["agentRuntimeName"]], modelled(AGENTCORE, "CreateAgentRuntime", "agentRuntimeName")),
        ("description", lambda i: [i["description"]], modelled(AGENTCORE, "CreateAgentRuntime", "description")),
        ("environmentVariables keys", lambda i: list(i["environmentVariables"]),
         map_limits(AGENTCORE, "CreateAgentRuntime", "environmentVariables")[0].problem),
        ("environmentVariables values", lambda i: list(i["environmentVariables"].values()),
         map_limits(AGENTCORE, "CreateAgentRuntime", "environmentVariables")[1].problem),
        ("environmentVariables entries", lambda i: [str(len(i["environmentVariables"]))],
         entries(AGENTCORE, "CreateAgentRuntime", "environmentVariables")),
    ],
    "aws:bedrock/agentcoreAgentRuntimeEndpoint:AgentcoreAgentRuntimeEndpoint": [
        ("name", lambda i: [i["name"]], modelled(AGENTCORE, "CreateAgentRuntimeEndpoint", "name")),
        ("description", lambda i: [i["description"]], modelled(AGENTCORE, "CreateAgentRuntimeEndpoint", "description")),
    ],
    "aws:cloudwatch/logGroup:LogGroup": [
        ("name", lambda i: [i["name"]], modelled("logs", "CreateLogGroup", "logGroupName")),
    ],
    "aws:ecr/repository:Repository": [
        ("name", lambda i: [i["name"]], modelled("ecr", "CreateRepository", "repositoryName")),
    ],
    "docker:index/image:Image": [
        ("imageName tag", lambda i: [_docker_tag(i)], modelled("ecr", "PutImage", "imageTag")),
    ],
    "pulumi-python:dynamic/images:RemoteImageBuild": [
        ("tag", lambda i: [i["tag"]], modelled("ecr", "PutImage", "imageTag")),
        ("key", lambda i: [i["key"]], modelled("s3", "PutObject", "Key")),
    ],
    "aws:codebuild/project:Project": [
        ("name", lambda i: [i["name"]], modelled("codebuild", "CreateProject", "name")),
        ("description", lambda i: [i["description"]], modelled("codebuild", "CreateProject", "description")),
    ],
    "aws:ecs/cluster:Cluster": [("name", lambda i: [i["name"]], documented("ecs ClusterName"))],
    "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders": [
        ("clusterName", lambda i: [i["clusterName"]], documented("ecs ClusterName")),
    ],
    "aws:ecs/taskDefinition:TaskDefinition": [
        ("family", lambda i: [i["family"]], documented("ecs Family")),
        ("container name", lambda i: [c["name"] for c in _containers(i)], documented("ecs ContainerName")),
    ],
    "aws:s3/bucket:Bucket": [
        ("bucketPrefix", lambda i: [i["bucketPrefix"]], documented("pulumi-aws s3.Bucket bucketPrefix")),
        # what the provider makes of it: the prefix and 26 characters of timestamp and counter
        ("bucket name", lambda i: [i["bucketPrefix"] + "20261202000000000000000001"], documented("s3 BucketName")),
    ],
    "aws:iam/role:Role": [("description", lambda i: [i["description"]], modelled("iam", "CreateRole", "Description"))],
    "aws:iam/policy:Policy": [
        # what the provider makes of the prefix: the prefix and 26 characters of timestamp and counter
        ("namePrefix", lambda i: [i["namePrefix"] + "20261202000000000000000001"], modelled("iam", "CreatePolicy", "PolicyName")),
        ("description", lambda i: [i["description"]], modelled("iam", "CreatePolicy", "Description")),
    ],
    "aws:ec2/securityGroup:SecurityGroup": [
        ("description", lambda i: [i["description"]], documented("ec2 SecurityGroupDescription")),
    ],
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": [
        ("description", lambda i: [i["description"]], documented("ec2 SecurityGroupRuleDescription")),
    ],
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": [
        ("description", lambda i: [i["description"]], documented("ec2 SecurityGroupRuleDescription")),
    ],
}  # fmt: skip
# Inputs that name the resource itself (a `bucket` of a bucket *setting* names another resource: not here).
NAME_LIKE = ("name", "namePrefix", "bucket", "bucketPrefix", "family", "agentRuntimeName", "clusterName",
             "description", "imageName", "environmentVariables", "containerDefinitions")  # fmt: skip
# Bucket settings refer to their bucket by name; so does the image build (where it uploads the context).
REFERENCES = {("bucket", "aws:s3/"), ("bucket", "pulumi-python:dynamic/images:")}


def _name_inputs(type_token: str, inputs: Mapping[str, Any]) -> list[str]:
    return [
        k for k in NAME_LIKE if k in inputs and not any(k == ref and type_token.startswith(p) for ref, p in REFERENCES)
    ]


ODD_STACKS = ("Dev.Team_A", "analytics-europe-west-production-2026")


@pytest.fixture(scope="module")
def evaluations(dev: Evaluation, prod: Evaluation, evaluate_stack) -> list[Evaluation]:
    odd = []
    for stack in ODD_STACKS:
        result = evaluate_stack(stack, config=load_stack_config("dev"))
        assert result.error is None, result.error
        odd.append(result)
    local = evaluate_stack("dev", {"deep-insight:images.build": "local"})  # the Docker build's names too
    assert local.error is None, local.error
    return [dev, prod, *odd, local]


def violations(evaluation: Evaluation) -> Iterator[str]:
    for resource in evaluation.resources:
        if not resource.custom:
            continue
        where = f"{evaluation.stack}: {resource.type.split(':')[-1]} {resource.name}"
        tags = resource.inputs.get("tags") or {}
        if tags:
            service = service_of(resource.type)
            if service is None:
                yield f"{where}: tagged, but tests/botocore_shapes.py maps {resource.type} to no botocore service"
                continue
            key_limit, value_limit = tag_limits(service)
            for key, value in tags.items():
                for problem in (key_limit.problem(key), value_limit.problem(value)):
                    if problem:
                        yield f"{where}: tag {key!r}: {problem}"
        checks = NAME_CHECKS.get(resource.type, [])
        covered = {what.split()[0] for what, _, _ in checks}
        for name_input in _name_inputs(resource.type, resource.inputs):
            if name_input not in covered and not (name_input == "containerDefinitions" and "container" in covered):
                yield f"{where}: {name_input} has no rule in NAME_CHECKS"
        for what, read, rule in checks:
            for value in read(resource.inputs):
                if problem := rule(value):
                    yield f"{where}: {what}: {problem}"


def test_every_declared_name_and_tag_fits_aws_limits(evaluations):
    found = [line for evaluation in evaluations for line in violations(evaluation)]
    assert found == [], "\n".join(found)


def test_the_walk_sees_every_checked_type(evaluations):
    declared = {r.type for e in evaluations for r in e.resources}
    assert set(NAME_CHECKS) <= declared, "NAME_CHECKS names a type the program no longer declares"


def test_the_walk_catches_a_bad_name(dev):
    """The check can fail: a hyphen in the runtime name and an over-long log group are reported."""
    runtime = dev.named("agent-runtime", "aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime")
    broken = Evaluation(stack="broken", config={})
    broken.resources.append(
        type(runtime)(**{**runtime.__dict__, "inputs": {**runtime.inputs, "agentRuntimeName": "deep-insight-dev"}})
    )
    assert any("agentRuntimeName" in line and "pattern" in line for line in violations(broken))


# --- names derived from a stack name: every stack name Pulumi allows ---

STACK_ALPHABET = string.ascii_letters + string.digits + "-_."


def stack_names() -> list[str]:
    rng = random.Random(20261202)
    edge = ["a", "-", ".", "_", "9", "Dev", "DEV", "a.b", "a_b", "a-b", "a--b", "x.-y", "prod", "dev", "-lead", "trail-",
            "z" * 100, "9" * 100, "_" * 100, "analytics-europe-west-production-2026", "eu-central-prod"]  # fmt: skip
    sampled = ["".join(rng.choices(STACK_ALPHABET, k=rng.randint(1, 100))) for _ in range(1500)]
    sampled += ["".join(rng.choices(string.ascii_lowercase + "-", k=rng.randint(1, 20))) for _ in range(500)]
    return edge + sampled


STACKS = stack_names()
SESSION_IDS = [
    "".join(random.Random(n).choices(string.ascii_letters + string.digits + "._-", k=random.Random(n).randint(0, 255)))
    for n in range(300)
]
SESSION_IDS = ["a" + s for s in SESSION_IDS] + ["0" * SESSION_ID_MAX]


def test_names_derived_from_any_stack_name_fit_aws_limits():
    runtime_name = modelled(AGENTCORE, "CreateAgentRuntime", "agentRuntimeName")
    repository = modelled("ecr", "CreateRepository", "repositoryName")
    tag_value_limits = [tag_limits(s)[1] for s in ("ecs", "elbv2", AGENTCORE, "iam", "logs", "s3", "ec2", "ecr")]
    problems: list[str] = []
    for stack in STACKS:
        prefix = resource_prefix(stack)
        checks: list[tuple[str, str | None]] = [
            ("agentcore_runtime_name", runtime_name(agentcore_runtime_name(stack))),
            ("ECR repository", repository(f"{prefix}-executor")),
            ("ECS cluster", documented_problem("ecs ClusterName", prefix)),
            ("ECS family", documented_problem("ecs Family", f"{prefix}-executor")),
            *(
                (
                    f"bucket {purpose}",
                    documented_problem("pulumi-aws s3.Bucket bucketPrefix", bucket_prefix(prefix, purpose)),
                )
                for purpose in ("artifacts", "alb-logs")
            ),
            ("bucket name", documented_problem("s3 BucketName", bucket_prefix(prefix, "artifacts") + "1" * 26)),
            *(("stack tag", lim.problem(stack)) for lim in tag_value_limits),
        ]
        tg_prefix = target_group_prefix(stack)
        try:
            SessionTargetGroupTemplate(name_prefix=tg_prefix)
        except ValueError as error:
            checks.append(("target_group_prefix", str(error)))
        for session_id in SESSION_IDS[:5]:
            checks.append(
                ("target group", documented_problem("elbv2 TargetGroupName", target_group_name(tg_prefix, session_id)))
            )
        problems += [f"stack {stack!r}: {what}: {problem}" for what, problem in checks if problem]
    assert problems == [], "\n".join(problems[:20])


def test_distinct_stacks_get_distinct_resource_prefixes():
    by_prefix: dict[str, str] = {}
    clashes = []
    for stack in set(STACKS):
        other = by_prefix.setdefault(resource_prefix(stack), stack)
        if other != stack:
            clashes.append((other, stack))
    assert clashes == []


def test_plain_stack_names_keep_their_names():
    # independent of the implementation: what the deployed dev/prod stacks were named by
    assert resource_prefix("dev") == "deep-insight-dev"
    assert resource_prefix("prod") == "deep-insight-prod"
    assert resource_prefix("eu-prod-2") == "deep-insight-eu-prod-2"


# --- values derived from a session id (the agent's per-session resources and ALB rule) ---


def test_session_values_fit_aws_limits():
    tag_key = [tag_limits(s)[0] for s in ("ecs", "elbv2")]
    tag_value = [tag_limits(s)[1] for s in ("ecs", "elbv2")]
    header = documented("elbv2 HttpHeaderConditionConfig.Values")
    problems = [
        f"{what}: {problem}"
        for session_id in SESSION_IDS
        for what, problem in [
            (ROUTING_HEADER, header(routing_key(session_id))),
            *((SESSION_TAG, lim.problem(session_id)) for lim in tag_value),
            *(("tag key", lim.problem(k)) for lim in tag_key for k in (SESSION_TAG, STACK_TAG)),
        ]
        if problem
    ]
    assert problems == [], "\n".join(problems[:20])
