"""The roles' policies against AWS's Service Authorization Reference and a real IAM evaluator.

Nothing here lists the calls the runtime makes or what they need. The agent's real code runs against a moto
server - `build_deps` wires the reaper and `EcsExecutorSession` as in the container, `fetch_inputs` and
`publish_artifacts` sign presigned URLs with the agent's own client and the executor's own `transfers` follow them
(the executor has no role: each S3 request it makes with a URL is authorized as the signer, the agent's role), and the configured `BedrockModel` builds its ConverseStream
request, which a botocore hook stops before it leaves (moto has no Bedrock runtime) - while botocore hooks
record every request. `tests.aws_requests` derives from each request, with the reference, what AWS authorizes;
principalmapper evaluates that against the policy documents exactly as the Pulumi program declares them (dev
stack; the listener's ids, which AWS picks at creation, are moto's). Where the reference and AWS disagree,
`tests.aws_reference.DISAGREEMENTS` says so, with sources.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote, urlparse

import boto3
import pytest
from deep_insight_agent.__main__ import build_deps
from deep_insight_agent.artifacts import fetch_inputs, publish_artifacts
from deep_insight_agent.config import EcsSettings, Env
from deep_insight_agent.executor_client import ExecutorClient
from deep_insight_agent.executor_session import EcsExecutorSession
from deep_insight_agent.reaper import Reaped, reap
from deep_insight_contract.executor import FileEntry, SyncDirection, SyncResult, Transfer
from deep_insight_executor import transfers
from strands.models.bedrock import BedrockModel

from components.iam import allow, document
from ops.evaluate import Evaluation
from tests.aws_reference import (
    DISAGREEMENTS,
    OPERATION_ACTIONS,
    allows,
    privilege,
    reference_findings,
    resource_types,
)
from tests.aws_requests import Authorization, Recorder, Request, World, authorizations
from tests.conftest import EvaluateStack, key
from tests.moto_server import executor_network, hold_ecs_tasks, moto_server

ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
SESSION = "session-0123456789abcdef0123456789abcdef"
CRASHED = "crashed-0123456789abcdef0123456789abcdef"
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


@dataclass(repr=False)
class Deployed:
    """The dev stack in moto: the agent runtime's environment and the role policies, as the program declares them."""

    endpoint: str
    env: dict[str, str]
    policies: dict[str, dict[str, Any]]
    setup: boto3.Session
    """Unrecorded: for building the world and looking things up."""

    def client(self, name: str) -> Any:
        return self.setup.client(name, endpoint_url=self.endpoint)  # type: ignore[call-overload]


def _listener_path(arn: str) -> str:
    return arn.split(":listener/", 1)[1]  # app/<load balancer>/<id>/<listener id>


@pytest.fixture(scope="module")
def deployed(dev: Evaluation) -> Iterator[Deployed]:
    (runtime,) = dev.of_type("aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime")
    env = dict(runtime.inputs["environmentVariables"])
    (task_definition,) = dev.of_type("aws:ecs/taskDefinition:TaskDefinition")
    with moto_server() as endpoint:
        hold_ecs_tasks(endpoint)
        world = Deployed(endpoint, env, {}, boto3.Session(region_name=env[Env.AWS_REGION], **CREDENTIALS))
        ec2, ecs, elbv2 = world.client("ec2"), world.client("ecs"), world.client("elbv2")
        dev_listener = env[Env.LISTENER_ARN]
        net = executor_network(
            ec2,
            ecs,
            elbv2,
            cluster_name=env[Env.CLUSTER_ARN].rsplit("/", 1)[1],
            family=task_definition.inputs["family"],
            container=env[Env.EXECUTOR_CONTAINER],
            alb_name=_listener_path(dev_listener).split("/")[1],
            roles={
                k: task_definition.inputs[k] for k in ("taskRoleArn", "executionRoleArn") if k in task_definition.inputs
            },
        )
        world.client("s3").create_bucket(Bucket=env[Env.ARTIFACT_BUCKET])
        world.env |= {
            Env.VPC_ID: net.vpc_id,
            Env.SUBNET_IDS: ",".join(net.subnet_ids),
            Env.EXECUTOR_SECURITY_GROUP_ID: net.security_group_id,
            Env.CLUSTER_ARN: net.cluster_arn,
            Env.TASK_DEFINITION_ARN: net.task_definition_arn,
            Env.LISTENER_ARN: net.listener_arn,
            Env.ALB_DNS: net.alb_dns,
        }
        swap = (_listener_path(dev_listener), _listener_path(net.listener_arn))
        world.policies = {
            r.name: json.loads(r.inputs["policy"].replace(*swap)) for r in dev.of_type("aws:iam/rolePolicy:RolePolicy")
        }
        yield world


class SyncingExecutor:
    """The executor's HTTP surface the artifact helpers use, served by the executor's own ``transfers``. Every
    URL it follows is recorded as the S3 request S3 sees (path-style: /bucket/key on moto's endpoint)."""

    def __init__(self, workspace: Path, endpoint: str) -> None:
        self._workspace, self._endpoint = workspace, endpoint
        self.requests: list[Request] = []

    def _record(self, operation: str, url: str) -> None:
        assert url.startswith(self._endpoint + "/"), url
        bucket, key = unquote(urlparse(url).path).lstrip("/").split("/", 1)
        self.requests.append(Request("s3", operation, {"Bucket": bucket, "Key": key}, endpoint_prefix="s3"))

    async def sync(self, direction: str, files: tuple[Transfer, ...]) -> SyncResult:
        download = direction == SyncDirection.DOWNLOAD
        for transfer in files:
            self._record("GetObject" if download else "PutObject", transfer.url)
        if download:
            return await asyncio.to_thread(transfers.download, files, self._workspace)
        return await asyncio.to_thread(transfers.upload, files, self._workspace)

    async def list_files(self) -> list[FileEntry]:
        files = (f for f in self._workspace.rglob("*") if f.is_file())
        return [FileEntry(f.relative_to(self._workspace).as_posix(), f.stat().st_size, "") for f in files]


class Captured(Exception):
    """Raised by a hook once the request is recorded, so that it never leaves the machine."""


@dataclass(repr=False)
class Run:
    agent: list[Request]
    executor: list[Request]
    reaped: Reaped
    inputs: int
    published: list[dict[str, Any]]


async def _run_runtime(deployed: Deployed, agent: Recorder, executor: Recorder, workspace: Path) -> Run:
    region, bucket = deployed.env[Env.AWS_REGION], deployed.env[Env.ARTIFACT_BUCKET]
    deps = build_deps(None, None)  # the container's own wiring: reaper at session start, then the ECS session
    settings = EcsSettings.from_env()
    ecs, elbv2 = boto3.client("ecs", region_name=region), boto3.client("elbv2", region_name=region)
    await EcsExecutorSession(settings, CRASHED, ecs=ecs, elbv2=elbv2).__aenter__()  # a runtime that crashed
    notices: list[str] = []
    async with deps.open_executor(SESSION, notices.append):
        pass
    assert notices == []  # cleanup went through; a refused step would be a notice here
    # A later session start, once the crashed session's leftovers are past orphan_age.
    reaped = reap(settings, ecs=ecs, elbv2=elbv2, older_than=None)  # any age: the reaper's 'everything'

    deployed.client("s3").put_object(Bucket=bucket, Key=f"sessions/{SESSION}/input/sales.csv", Body=b"a,b\n1,2\n")
    syncing = SyncingExecutor(workspace, deployed.endpoint)
    served = cast(ExecutorClient, syncing)
    presigner = deps.presigner(SESSION)  # the container's own signing client
    assert presigner is not None
    inputs = await fetch_inputs(served, (f"s3://{bucket}/sessions/{SESSION}/input/sales.csv",), presigner)
    (workspace / "artifacts").mkdir()
    (workspace / "artifacts" / "citations.json").write_text("[]")
    published = await publish_artifacts(served, presigner)
    executor.requests.extend(syncing.requests)

    model = cast(BedrockModel, deps.model_for("coder"))
    agent.attach(model.client.meta.events)

    def stop(**_: Any) -> None:
        raise Captured

    model.client.meta.events.register("before-call", stop)
    with pytest.raises(Captured):
        async for _ in model.stream([{"role": "user", "content": [{"text": "What is the total?"}]}]):
            pass
    return Run(agent.requests, executor.requests, reaped, inputs, published)


@pytest.fixture(scope="module")
def run(deployed: Deployed) -> Iterator[Run]:
    agent, executor = Recorder(), Recorder()
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as workspace:
        for name, value in deployed.env.items():
            patch.setenv(name, value)
        patch.setenv("AWS_DEFAULT_REGION", deployed.env[Env.AWS_REGION])
        patch.setenv("AWS_ENDPOINT_URL", deployed.endpoint)
        patch.setenv("AWS_ACCESS_KEY_ID", "test")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        patch.setattr(boto3, "DEFAULT_SESSION", None)
        boto3.setup_default_session()
        agent.attach(boto3.DEFAULT_SESSION.events)  # every client the agent makes with boto3.client(...)
        yield asyncio.run(_run_runtime(deployed, agent, executor, Path(workspace)))


def _authorized(requests: list[Request], deployed: Deployed) -> list[Authorization]:
    ecs = deployed.client("ecs")

    def roles(task_definition: str) -> list[str]:
        found = ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
        return [found[k] for k in ("taskRoleArn", "executionRoleArn") if found.get(k)]

    world = World(deployed.env[Env.AWS_REGION], "123456789012", roles)
    return [a for request in requests for a in authorizations(request, world)]


def _assert_allowed(found: list[Authorization], policy: dict[str, Any]) -> None:
    denied = [str(a) for a in found if not allows(policy, a.action, a.resource, a.context)]
    assert not denied, "denied:\n" + "\n".join(denied)


def test_the_runtime_really_ran_its_code_paths(run: Run):
    # The capture is of real work: the reaper removed the crashed session's rule, group and task, the inputs
    # came down, the artifacts went up, and the model request was built.
    reaped = run.reaped
    assert (len(reaped.rules), len(reaped.target_groups), len(reaped.tasks), reaped.failures) == (1, 1, 1, [])
    assert run.inputs == 1
    assert [a["name"] for a in run.published] == ["citations.json"]
    assert any(r.service == "bedrock" for r in run.agent)


def test_every_request_of_the_agent_runtime_is_allowed_by_its_role(run: Run, deployed: Deployed):
    found = _authorized(run.agent, deployed)
    _assert_allowed(found, deployed.policies["agent-policy"])


def test_requests_evaluated_on_star_are_allowed_on_star(run: Run, deployed: Deployed):
    star = [a for a in _authorized(run.agent, deployed) if a.resource == "*"]
    assert star, "no request of the runtime is evaluated on *"
    _assert_allowed(star, deployed.policies["agent-policy"])


def test_session_object_requests_are_allowed_as_the_agent_that_signed_them(run: Run, deployed: Deployed):
    # The executor makes them with URLs the agent presigned: S3 authorizes each as the agent's role.
    found = _authorized(run.executor, deployed)
    assert {(a.action, a.resource.split(":::", 1)[1]) for a in found} == {
        ("s3:GetObject", f"{deployed.env[Env.ARTIFACT_BUCKET]}/sessions/{SESSION}/input/sales.csv"),
        ("s3:PutObject", f"{deployed.env[Env.ARTIFACT_BUCKET]}/sessions/{SESSION}/artifacts/citations.json"),
    }
    _assert_allowed(found, deployed.policies["agent-policy"])


def test_the_executor_task_has_no_role_and_no_policy(dev: Evaluation, deployed: Deployed):
    # Issue 12: nothing user code can reach in the executor task hands out AWS credentials.
    (task_definition,) = dev.of_type("aws:ecs/taskDefinition:TaskDefinition")
    assert "taskRoleArn" not in task_definition.inputs
    assert not any(name.startswith("executor-task") for name in deployed.policies)


def test_every_action_and_condition_key_of_the_stack_is_in_the_reference(dev: Evaluation):
    documents = [(r.name, json.loads(r.inputs["policy"])) for r in dev.of_type("aws:iam/rolePolicy:RolePolicy")]
    documents += [(r.name, json.loads(r.inputs["assumeRolePolicy"])) for r in dev.of_type("aws:iam/role:Role")]
    documents += [(r.name, json.loads(r.inputs["policy"])) for r in dev.of_type("aws:s3/bucketPolicy:BucketPolicy")]
    documents += [(r.name, json.loads(r.inputs["policy"])) for r in dev.of_type("aws:iam/policy:Policy")]
    assert len(documents) >= 6  # agent and executor-execution role and trust, the bucket policy, the analyst policy
    assert reference_findings(documents) == []


# --- the network: every service the runtime reaches has a way there, and no endpoint is idle ---

NETWORK_MODES = [("none", "false"), ("single", "false"), ("perAz", "false"), ("single", "true")]
"""network.natGateways × executor.internetAccess (internet access needs a NAT gateway)."""


def _executor_needs(evaluation: Evaluation, run: Run) -> set[str]:
    """What Fargate and the executor reach, read from the task definition and the executor's recorded requests."""
    (task,) = evaluation.of_type("aws:ecs/taskDefinition:TaskDefinition")
    (container,) = json.loads(task.inputs["containerDefinitions"])
    needs = {request.endpoint_prefix for request in run.executor}
    if ".dkr.ecr." in container["image"]:
        needs |= {"ecr.api", "ecr.dkr", "s3"}  # the registry API, the manifests, the layers (AWS's ECR endpoint guide)
    if container["logConfiguration"]["logDriver"] == "awslogs":
        needs.add("logs")
    return needs


@pytest.mark.parametrize(("nat", "internet"), NETWORK_MODES)
def test_every_service_the_runtime_reaches_is_routable_and_no_endpoint_is_idle(
    run: Run, evaluate_stack: EvaluateStack, nat: str, internet: str
):
    evaluation = evaluate_stack("dev", {key("network.natGateways"): nat, key("executor.internetAccess"): internet})
    assert evaluation.error is None, evaluation.error
    prefix = f"com.amazonaws.{evaluation.outputs['region']}."
    endpoints = {r.inputs["serviceName"].removeprefix(prefix): r.inputs for r in evaluation.of_type(ENDPOINT)}
    gateways = {s for s, inputs in endpoints.items() if inputs["vpcEndpointType"] == "Gateway"}
    interfaces = set(endpoints) - gateways
    egress = {r.name for r in evaluation.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")}
    has_nat = bool(evaluation.of_type("aws:ec2/natGateway:NatGateway"))
    online = {part for part in ("agent", "executor") if has_nat and f"security-{part}-to-internet-443-out" in egress}
    needs = {"agent": {r.endpoint_prefix for r in run.agent}, "executor": _executor_needs(evaluation, run)}
    assert needs["agent"] >= {"bedrock-runtime", "ecs", "elasticloadbalancing", "s3"}  # the recording is whole
    for part, services in needs.items():
        unrouted = {s for s in services if s not in gateways and s not in interfaces and part not in online}
        assert not unrouted, f"{part} cannot reach {unrouted} with natGateways {nat}"
    wanted = {s for part, services in needs.items() if part not in online for s in services} - gateways
    assert interfaces == wanted, f"idle endpoints: {interfaces - wanted}"


# --- the derivation itself: each rule can fail ---

CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/c"
ROLES = ["arn:aws:iam::123456789012:role/task", "arn:aws:iam::123456789012:role/execution"]
WORLD = World("us-east-1", "123456789012", lambda _: ROLES)


def test_a_cluster_wide_list_tasks_is_evaluated_on_star_and_a_container_instance_grant_denies_it():
    (found,) = authorizations(Request("ecs", "ListTasks", {"cluster": CLUSTER, "desiredStatus": "RUNNING"}), WORLD)
    assert (found.resource, dict(found.context)) == ("*", {"ecs:cluster": CLUSTER})
    in_cluster = {"ArnEquals": {"ecs:cluster": CLUSTER}}
    before = document(
        allow("L", ["ecs:ListTasks"], ["arn:aws:ecs:us-east-1:123456789012:container-instance/c/*"], in_cluster)
    )
    after = document(allow("L", ["ecs:ListTasks"], "*", in_cluster))
    elsewhere = document(allow("L", ["ecs:ListTasks"], "*", {"ArnEquals": {"ecs:cluster": CLUSTER + "x"}}))
    assert [allows(d, found.action, found.resource, found.context) for d in (before, after, elsewhere)] == [
        False,
        True,
        False,
    ]


def test_naming_no_instance_of_a_required_type_needs_a_cited_disagreement():
    with pytest.raises(LookupError, match="DISAGREEMENTS"):
        authorizations(Request("ecs", "StopTask", {"cluster": CLUSTER}), WORLD)


def test_run_task_implies_pass_role_and_tagging_on_create():
    definition = "arn:aws:ecs:us-east-1:123456789012:task-definition/f:3"
    task = "arn:aws:ecs:us-east-1:123456789012:task/c/abc"
    request = Request(
        "ecs",
        "RunTask",
        {"cluster": CLUSTER, "taskDefinition": definition, "tags": [{"key": "k", "value": "v"}]},
        {"tasks": [{"taskArn": task, "clusterArn": CLUSTER, "taskDefinitionArn": definition}]},
    )
    found = {(a.action, a.resource): dict(a.context) for a in authorizations(request, WORLD)}
    assert found[("ecs:RunTask", definition)]["ecs:cluster"] == CLUSTER
    assert found[("ecs:TagResource", task)] == {
        "aws:TagKeys": ["k"],
        "aws:RequestTag/k": "v",
        "ecs:CreateAction": "RunTask",
    }
    for role in ROLES:
        assert found[("iam:PassRole", role)] == {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    assert WORLD.resource_tags[task] == {"k": "v"}


def test_disagreements_still_disagree_with_the_reference():
    # When the reference is corrected, its entry here must go.
    for entry in DISAGREEMENTS:
        kinds = resource_types(entry.action)
        if entry.kind == "evaluated-on-star":
            assert any(k.required for k in kinds), entry
        elif entry.kind == "tag-on-create":
            assert not any(d.endswith(":TagResource") for k in kinds for d in k.dependent_actions), entry
        else:
            assert {"inference-profile", "foundation-model"} <= {k.name for k in kinds}, entry
        assert entry.source


def test_the_operation_table_holds_only_what_the_reference_cannot_tell():
    for (service, operation), (action, source) in OPERATION_ACTIONS.items():
        assert privilege(action) is not None, action
        assert privilege(f"{service}:{operation}") is None, operation
        assert source.startswith("docs.aws.amazon.com/")


def test_the_reference_check_finds_unknown_actions_and_misplaced_keys():
    bad = document(
        allow("Typo", ["ecs:ListTask"], "*"),
        allow("WrongKey", ["s3:GetObject"], "*", {"ArnEquals": {"ecs:cluster": CLUSTER}}),
        allow("NoTags", ["elasticloadbalancing:DescribeRules"], "*", {"StringEquals": {"aws:ResourceTag/a": "b"}}),
        allow("Fine", ["ecs:DescribeTasks"], "*", {"StringEquals": {"aws:SourceAccount": "1", "ecs:cluster": "c"}}),
    )
    findings = reference_findings([("bad", bad)])
    assert [f.split(":")[0] for f in findings] == ["bad/Typo", "bad/WrongKey", "bad/NoTags"]
