"""The VPC endpoints' policies against AWS's documents and a real policy evaluator.

What reaches each endpoint is taken from what the parts really do, not from the program: the agent's and the
executor's requests recorded in `tests.components.test_iam_authorization` (real code against moto), plus what the
executor's task definition makes Fargate do, as AWS documents it (the ECR pull through ecr.api, ecr.dkr and the
S3 gateway, the awslogs driver's two calls). `tests.aws_requests` derives from each request what AWS authorizes,
and principalmapper's evaluator answers for the endpoint policy the program declares. An endpoint declared
without a policy is evaluated with the policy AWS then attaches (full access, `AWS_DEFAULT_ENDPOINT_POLICY`):
that is the stack before endpoint policies, and every attack below passes it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pytest
from deep_insight_agent.config import Env

from ops.evaluate import Evaluation
from tests.aws_reference import AWS_DEFAULT_ENDPOINT_POLICY, allows, endpoint_allows
from tests.aws_requests import Authorization, Request, World, authorizations
from tests.components import test_iam_authorization as recorded
from tests.components.test_iam_authorization import Deployed, Run, _authorized, _listener_path

# The recorded run and its moto stack, as fixtures of this module too (one more run: ~5 s).
deployed = recorded.deployed
run = recorded.run

ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
ATTACKER = "444455556666"
ATTACKER_ROLE = f"arn:aws:iam::{ATTACKER}:role/exfiltration"
# ECR's own account presigns the layer URLs (AWS's data-perimeter examples, vpc_endpoint_policies/README.md:
# "a presigned URL, which is created by an Amazon ECR account"); which account that is, AWS does not say.
ECR_SIGNER = "arn:aws:iam::999988887777:root"
# AWS's name for the bucket that holds ECR's image layers (ECR user guide, "Minimum Amazon S3 bucket permissions
# for Amazon ECR": docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html#ecr-minimum-s3-perms).
LAYER_BUCKET = "prod-{region}-starport-layer-bucket"
TASK_ID = "0123456789abcdef0123456789abcdef"


def signed_by(arn: str | None) -> dict[str, str]:
    """The principal's condition keys for a request signed by ``arn``; none for an anonymous request."""
    return {} if arn is None else {"aws:PrincipalAccount": arn.split(":")[4], "aws:PrincipalArn": arn}


@dataclass(frozen=True)
class Call:
    """One authorization a request through ``endpoint`` (a service suffix: s3, ecr.dkr, ...) asks of AWS."""

    endpoint: str
    authorization: Authorization
    signer: str | None
    """The principal whose signature the request carries (a presigned URL carries its signer's)."""

    @property
    def context(self) -> dict[str, Any]:
        return {**self.authorization.context, **signed_by(self.signer)}

    def __str__(self) -> str:
        a = self.authorization
        return f"{self.endpoint}: {a.action} on {a.resource} signed by {self.signer} ({a.request})"


def through_endpoints(endpoint: str, request: Request, world: World, signer: str | None) -> list[Call]:
    """The authorizations of ``request`` that its endpoint sees: those of the request's own service (a RunTask's
    iam:PassRole is IAM's check of the caller's role, not a request through the ECS endpoint)."""
    found = authorizations(request, world)
    return [Call(endpoint, a, signer) for a in found if a.action.split(":")[0] == request.service]


def endpoint_policies(evaluation: Evaluation, swap: tuple[str, str] = ("", "")) -> dict[str, Mapping[str, Any]]:
    """Service suffix -> the policy AWS applies to the stack's endpoint: the declared one, else AWS's default."""
    prefix = f"com.amazonaws.{evaluation.outputs['region']}."
    found: dict[str, Mapping[str, Any]] = {}
    for endpoint in evaluation.of_type(ENDPOINT):
        policy = endpoint.inputs.get("policy")
        suffix = endpoint.inputs["serviceName"].removeprefix(prefix)
        found[suffix] = json.loads(policy.replace(*swap)) if policy else AWS_DEFAULT_ENDPOINT_POLICY
    return found


def fargate_requests(evaluation: Evaluation) -> list[tuple[str, Request, str]]:
    """(endpoint, request, signer) for what Fargate does to start the executor task, read from its task definition:
    the ECR pull and the awslogs driver, with the actions of AmazonECSTaskExecutionRolePolicy
    (docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html) and the endpoints of the ECR
    guide (vpc-endpoints.html: the registry API on ecr.api, the Docker Registry API on ecr.dkr, layers from S3)."""
    (task,) = evaluation.of_type("aws:ecs/taskDefinition:TaskDefinition")
    (container,) = json.loads(task.inputs["containerDefinitions"])
    registry, _, path = container["image"].partition("/")
    repository, _, digest = path.partition("@")
    role = task.inputs["executionRoleArn"]
    image = {"registryId": registry.split(".")[0], "repositoryName": repository}
    logs = container["logConfiguration"]["options"]
    # awslogs names a task's stream <prefix>/<container>/<task id> (ECS developer guide, using_awslogs.html).
    stream = {
        "logGroupName": logs["awslogs-group"],
        "logStreamName": f"{logs['awslogs-stream-prefix']}/{container['name']}/{TASK_ID}",
    }
    layer = {"Bucket": LAYER_BUCKET.format(region=evaluation.outputs["region"]), "Key": f"sha256/{digest[7:]}"}
    return [
        ("ecr.api", Request("ecr", "GetAuthorizationToken", {}), role),
        ("ecr.dkr", Request("ecr", "BatchGetImage", {**image, "imageIds": [{"imageDigest": digest}]}), role),
        ("ecr.dkr", Request("ecr", "BatchCheckLayerAvailability", {**image, "layerDigests": [digest]}), role),
        ("ecr.dkr", Request("ecr", "GetDownloadUrlForLayer", {**image, "layerDigest": digest}), role),
        ("s3", Request("s3", "GetObject", layer), ECR_SIGNER),
        ("logs", Request("logs", "CreateLogStream", stream), role),
        ("logs", Request("logs", "PutLogEvents", {**stream, "logEvents": []}), role),
    ]


@dataclass(repr=False)
class Traffic:
    """Everything that passes the dev stack's endpoints (dev has no NAT: every AWS call takes one)."""

    calls: list[Call]
    fargate: list[Call]
    """Fargate's part of ``calls``: what it does with the task's execution role."""
    policies: dict[str, Mapping[str, Any]]
    execution_policy: Mapping[str, Any]
    world: World


@pytest.fixture(scope="module")
def traffic(dev: Evaluation, deployed: Deployed, run: Run) -> Traffic:
    (runtime,) = dev.of_type("aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime")
    swap = (_listener_path(runtime.inputs["environmentVariables"][Env.LISTENER_ARN]),
            _listener_path(deployed.env[Env.LISTENER_ARN]))  # fmt: skip
    agent_role = dev.outputs["agentRoleArn"]
    world = World(deployed.env[Env.AWS_REGION], "123456789012", lambda _: [])
    # The agent's own calls, and the executor's transfers, which carry the agent's presigned signature.
    calls = [
        Call(a.request.endpoint_prefix, a, agent_role)
        for a in _authorized(run.agent + run.executor, deployed)
        if a.action.split(":")[0] == a.request.service
    ]
    fargate = [c for e, r, s in fargate_requests(dev) for c in through_endpoints(e, r, world, s)]
    execution = deployed.policies["executor-execution-policy"]
    return Traffic(calls + fargate, fargate, endpoint_policies(dev, swap), execution, world)


def test_the_traffic_covers_every_endpoint_and_both_parts(traffic: Traffic):
    assert {c.endpoint for c in traffic.calls} == set(traffic.policies)
    assert {c.signer for c in traffic.calls} >= {ECR_SIGNER}
    assert {(c.endpoint, c.authorization.action) for c in traffic.calls} >= {
        ("s3", "s3:PutObject"),  # the executor's upload of an artifact
        ("s3", "s3:GetObject"),  # an input, and an image layer
        ("bedrock-runtime", "bedrock:InvokeModelWithResponseStream"),
        ("ecs", "ecs:RunTask"),
        ("elasticloadbalancing", "elasticloadbalancing:CreateRule"),
    }


def test_fargate_may_pull_the_image_and_write_its_log_with_its_execution_role(traffic: Traffic):
    # The IAM half of what the endpoints must let through (the layer is fetched with ECR's signature, not ours).
    fargate = [c for c in traffic.fargate if c.signer != ECR_SIGNER]
    assert {c.endpoint for c in fargate} == {"ecr.api", "ecr.dkr", "logs"}
    assert len(fargate) == 6
    denied = [str(c) for c in fargate if not allows(traffic.execution_policy, c.authorization.action,
                                                       c.authorization.resource, c.context)]  # fmt: skip
    assert not denied, "denied:\n" + "\n".join(denied)


def test_every_call_the_parts_make_passes_the_policy_of_its_endpoint(traffic: Traffic):
    denied = [
        str(c)
        for c in traffic.calls
        if not endpoint_allows(traffic.policies[c.endpoint], c.authorization.action, c.authorization.resource,
                               c.context)
    ]  # fmt: skip
    assert not denied, "denied:\n" + "\n".join(denied)


# --- the attacks: user code in the executor reaches S3 through the gateway and every interface endpoint ---


def _foreign(arn: str) -> str:
    """The same ARN in the attacker's account (an S3 ARN names no account: its bucket is renamed)."""
    parts = arn.split(":", 5)
    if parts[2] == "s3":
        return arn.replace(":::", ":::attacker-", 1)
    return ":".join([*parts[:4], ATTACKER if parts[4] else "", parts[5]])


def attacks(traffic: Traffic) -> dict[str, Call]:
    """What an attacker in the executor would try, each named."""
    put = Request("s3", "PutObject", {"Bucket": "attacker-exfiltration", "Key": "loot/sales.csv"})
    (exfiltrate,) = through_endpoints("s3", put, replace(traffic.world, account=ATTACKER), ATTACKER_ROLE)
    found = {
        "s3 PutObject to another account's bucket with its presigned URL": exfiltrate,
        "s3 anonymous PutObject to a public-write bucket": replace(exfiltrate, signer=None),
        "s3 PutObject to another account's bucket signed by the agent": replace(exfiltrate, signer=traffic.calls[0].signer),
    }  # fmt: skip
    for call in traffic.calls:
        if call.signer == ECR_SIGNER:
            continue  # AWS's layer bucket takes ECR's signature, whoever's; GetObject only (see the S3 policy)
        a = call.authorization
        found.setdefault(f"{call.endpoint} {a.action} signed by another account", replace(call, signer=ATTACKER_ROLE))
        if a.resource != "*" and _foreign(a.resource) != a.resource:
            moved = replace(call, signer=ATTACKER_ROLE, authorization=replace(a, resource=_foreign(a.resource)))
            found.setdefault(f"{call.endpoint} {a.action} on another account's resource", moved)
    return found


def test_every_endpoint_is_attacked(traffic: Traffic):
    assert {c.endpoint for c in attacks(traffic).values()} == set(traffic.policies)


def test_each_attack_passes_aws_default_policy(traffic: Traffic):
    # The stack before endpoint policies: AWS attaches full access to an endpoint created without one.
    for name, call in attacks(traffic).items():
        a = call.authorization
        assert endpoint_allows(AWS_DEFAULT_ENDPOINT_POLICY, a.action, a.resource, call.context), name


def test_each_attack_is_denied_by_the_policy_of_its_endpoint(traffic: Traffic):
    allowed = [
        f"{name}: {call}"
        for name, call in attacks(traffic).items()
        if endpoint_allows(traffic.policies[call.endpoint], call.authorization.action, call.authorization.resource,
                           call.context)
    ]  # fmt: skip
    assert not allowed, "allowed:\n" + "\n".join(allowed)
