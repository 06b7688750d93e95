"""Every caller of a deployed stack, against the policy that caller holds.

The dev stack is deployed into moto from the program (tests/ops/deployed.py), so the policies are the documents
the program declares with moto's ARNs. Then each caller runs its real code while botocore hooks record every
request it makes (`tests.aws_requests.Recorder`):

* a plan-review job: the runtime's real workflow (scripted models, a real executor) behind AgentCore's data-plane
  path (tests/ops/local_agentcore.py), its S3 client - the one it signs with and reads the decision with -
  recorded; it holds the agent's role;
* ``deep-insight invoke --review``, which starts that job and answers the plan; a person holding the analyst policy;
* ``deep-insight console --stack``: its ``StackRunner`` as the console's server drives it (a job with a plan
  decision, the history from the bucket, a stored job fetched); the analyst policy too;
* ``deep-insight verify`` and ``deep-insight reap`` (a crashed session left to reap): the deployer, whose
  permissions the README documents only by service (Prerequisites), so they are checked at that grain.

`tests.aws_requests` derives what AWS authorizes for each request from the Service Authorization Reference, and
principalmapper's evaluator answers for the policy. A request AWS documents as needing no permission (STS
GetCallerIdentity, per botocore's model) is set aside, by that documentation.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from deep_insight_agent.app import create_app
from deep_insight_agent.executor_local import LocalExecutorSession
from deep_insight_agent.executor_session import Notify
from deep_insight_agent.payload import Invocation
from deep_insight_agent.presign import s3_client as agent_s3_client
from deep_insight_agent.scripted import ScriptedModel
from deep_insight_agent.workflow import WorkflowDeps, run_job
from deep_insight_contract.events import EventType
from deep_insight_contract.storage import plan_review_key
from typer.testing import CliRunner

from ops.cli import app
from ops.invoke.job import new_session_id
from ops.local.job import LocalJob
from ops.stack import aws_session
from ops.web.serve import stack_runner
from tests.aws_reference import action_for, allows, endpoint_allows, needs_no_permission
from tests.aws_requests import Authorization, Recorder, Request, World, authorizations
from tests.ops.deployed import Deployed, deploy, leave_session, shared_client
from tests.ops.local_agentcore import AgentCoreDataPlane, serve
from tests.runtimes.agent.test_workflow import scripts
from tests.runtimes.conftest import DATA, TOKEN

PROJECT_DIR = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
QUESTION = "카테고리별 매출을 분석해줘"
# The README's names of the services the deployer's credentials must cover, as IAM service prefixes.
README_SERVICES = {
    "VPC": "ec2", "EC2": "ec2", "ECS": "ecs", "ELB": "elasticloadbalancing", "IAM": "iam", "S3": "s3",
    "ECR": "ecr", "Logs": "logs", "CodeBuild": "codebuild", "Bedrock AgentCore": "bedrock-agentcore",
}  # fmt: skip


@dataclass
class Callers:
    deployed: Deployed
    runtime_arn: str
    """The runtime's ARN in AWS's format (``runtime/<id>``, the reference's). moto names a runtime
    ``agent/<uuid>:1`` and an endpoint ``agentEndpoint/<uuid>``: the jobs run, and the analyst policy is read,
    with AWS's formats in their place."""
    requests: dict[str, list[Request]] = field(default_factory=dict)
    """Caller -> what it asked of AWS, in order: agent, invoke, console, verify, reap."""
    outcomes: dict[str, Any] = field(default_factory=dict)

    def applied(self, type_token: str, name: str) -> dict[str, Any]:
        (found,) = [
            a.inputs for a in self.deployed.applied if a.declared.type == type_token and a.declared.name == name
        ]
        return dict(found)

    def policy(self, holder: str) -> dict[str, Any]:
        if holder == "agent":
            return json.loads(self.applied("aws:iam/rolePolicy:RolePolicy", "agent-policy")["policy"])
        text = self.applied("aws:iam/policy:Policy", "analyst-policy")["policy"]
        out = self.deployed.outputs
        text = text.replace(out["agentRuntimeEndpointArn"], f"{self.runtime_arn}/runtime-endpoint/live")
        return json.loads(text.replace(out["agentRuntimeArn"], self.runtime_arn))


def _reset(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass


def _recording() -> Recorder:
    """A recorder on a fresh copy of the CLI's one boto3 session: every client the command makes reports to it."""
    aws_session.cache_clear()
    recorder = Recorder()
    recorder.attach(aws_session().events)
    return recorder


def _agent_app(bucket: str, runtime_arn: str, executor_url: str, agent_s3: Any) -> AgentCoreDataPlane:
    """The runtime's app and workflow (scripted models) with ``agent_s3`` as its S3 client, behind the data plane."""
    categories = list(pd.read_csv(DATA)["카테고리"].unique())

    @asynccontextmanager
    async def open_executor(session_id: str, report: Notify):
        async with LocalExecutorSession(executor_url, session_id, TOKEN) as session:
            yield session

    async def job(invocation: Invocation, session_id: str) -> AsyncIterator[dict[str, Any]]:
        models = {name: ScriptedModel(turns) for name, turns in scripts(categories).items()}
        deps = WorkflowDeps(
            model_for=models.__getitem__, open_executor=open_executor, artifact_bucket=bucket, s3=agent_s3,
            review_poll_seconds=0.2,
        )  # fmt: skip
        async for event in run_job(invocation, session_id, deps):
            yield event

    return AgentCoreDataPlane(create_app(job, artifact_bucket=bucket, keepalive_after=0.3), runtime_arn)


def _stack_models(agent: str) -> Any:
    raise AssertionError("a stack's jobs use the runtime's models")


def _console(outputs_file: Path, folder: Path, outcomes: dict[str, Any]) -> None:
    """What the console's server does with a stack: run a job and answer its plan, list the history from the
    bucket, fetch a stored job into a new folder."""
    runner = stack_runner("dev", outputs_file)
    job = LocalJob(QUESTION, [DATA], folder / "job", new_session_id(), _stack_models, review=True)
    events: list[dict[str, Any]] = []

    def show(event: dict[str, Any]) -> None:
        events.append(event)
        if event["type"] == EventType.PLAN_REVIEW:
            runner.decide(event, {"action": "approve"})

    asyncio.run(runner.run(job, show))
    listed = runner.remote()
    runner.fetch(job.session_id, folder / "fetched")
    outcomes["console"] = (events[-1]["type"], [j["sessionId"] for j in listed], sorted((folder / "fetched").iterdir()))


@pytest.fixture(scope="module")
def callers(moto_endpoint: str, start_executor, tmp_path_factory) -> Iterator[Callers]:
    folder = tmp_path_factory.mktemp("callers")
    _reset(moto_endpoint)
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        aws_session.cache_clear()
        deployed = deploy("dev")
        out = deployed.outputs
        region, runtime_id = out["region"], out["agentRuntimeId"]
        found = Callers(deployed, f"arn:aws:bedrock-agentcore:{region}:{ACCOUNT}:runtime/{runtime_id}")
        verified_file = deployed.write(folder / "outputs.json")  # moto's own ARNs, which verify compares
        outputs_file = folder / "outputs-aws.json"
        outputs_file.write_text(json.dumps({**out, "agentRuntimeArn": found.runtime_arn}), encoding="utf-8")
        agent = Recorder()
        agent_s3 = agent_s3_client(
            out["region"], endpoint_url=moto_endpoint, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        agent.attach(agent_s3.meta.events)
        executor = start_executor()
        plane = _agent_app(out["artifactBucket"], found.runtime_arn, executor.url, agent_s3)
        # moto serves plain HTTP, which the bucket's TLS-only policy refuses (moto evaluates it): it is set aside
        # while the jobs run and put back before verify, which checks it.
        s3 = shared_client("s3", out["region"])
        tls_only = s3.get_bucket_policy(Bucket=out["artifactBucket"])["Policy"]
        s3.delete_bucket_policy(Bucket=out["artifactBucket"])
        with serve(plane) as url:
            patch.setenv("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE", url)
            invoke = _recording()
            result = CliRunner().invoke(
                app,
                ["invoke", "--stack", "dev", QUESTION, "--data", str(DATA), "--download", str(folder / "invoked"),
                 "--outputs", str(outputs_file), "--review"],
                input="a\n",
            )  # fmt: skip
            found.outcomes["invoke"] = result
            found.requests["invoke"] = invoke.requests
            console = _recording()
            _console(outputs_file, folder, found.outcomes)
            found.requests["console"] = console.requests
            found.outcomes["sessions"] = [call.session_id for call in plane.invocations]
        found.requests["agent"] = agent.requests
        s3.put_bucket_policy(Bucket=out["artifactBucket"], Policy=tls_only)
        verify = _recording()
        found.outcomes["verify"] = CliRunner().invoke(
            app, ["verify", "--stack", "dev", "--outputs", str(verified_file)]
        )
        found.requests["verify"] = verify.requests
        leave_session(deployed, "crashed-two-hours-ago-0000000000000", timedelta(hours=2))
        reap = _recording()
        found.outcomes["reap"] = CliRunner().invoke(app, ["reap", "--stack", "dev", "--outputs", str(verified_file)])
        found.requests["reap"] = reap.requests
        aws_session.cache_clear()
        yield found


def _authorized(callers: Callers, requests: list[Request]) -> list[Authorization]:
    world = World(callers.deployed.outputs["region"], ACCOUNT, lambda _: [])
    return [a for r in requests if not needs_no_permission(r.model, r.operation) for a in authorizations(r, world)]


def _denied(found: list[Authorization], policy: dict[str, Any]) -> list[str]:
    return [str(a) for a in found if not allows(policy, a.action, a.resource, a.context)]


def test_each_caller_really_did_its_work(callers: Callers):
    invoke = callers.outcomes["invoke"]
    assert invoke.exit_code == 0, invoke.output
    assert "Plan approved." in invoke.stdout
    assert "✓ complete in" in invoke.stdout
    last, listed, fetched = callers.outcomes["console"]
    assert last == EventType.COMPLETE
    assert len(listed) == 1  # the console's own job, found again in the bucket
    assert "final_report.pdf" in {p.name for p in fetched}
    assert callers.outcomes["verify"].exit_code == 0, callers.outcomes["verify"].stdout
    reaped = callers.outcomes["reap"]
    assert reaped.exit_code == 0, reaped.output
    assert "Removed 1 rules, 1 target groups, 1 tasks." in reaped.stdout


def test_the_plan_review_job_takes_its_decision_with_the_agents_role(callers: Callers):
    bucket = callers.deployed.outputs["artifactBucket"]
    keys = {plan_review_key(session) for session in callers.outcomes["sessions"]}
    assert len(keys) == 2  # invoke's job and the console's
    decisions = [r for r in callers.requests["agent"] if r.params.get("Key") in keys]
    assert {r.operation for r in decisions} == {"DeleteObject", "GetObject"}  # cleared, read, deleted once read
    found = _authorized(callers, callers.requests["agent"])
    assert {a.action for a in found} >= {"s3:DeleteObject", "s3:GetObject"}
    assert all(a.resource.startswith(f"arn:aws:s3:::{bucket}/sessions/") for a in found), found
    assert _denied(found, callers.policy("agent")) == []


def test_the_agents_decision_requests_pass_the_s3_gateway_endpoint(callers: Callers):
    # The runtime reaches S3 through the gateway endpoint; its policy must let the role's own requests through.
    (gateway,) = [
        a.inputs
        for a in callers.deployed.applied
        if a.declared.type == "aws:ec2/vpcEndpoint:VpcEndpoint" and str(a.inputs["serviceName"]).endswith(".s3")
    ]
    policy = json.loads(gateway["policy"])
    role = callers.deployed.outputs["agentRoleArn"]
    principal = {"aws:PrincipalAccount": ACCOUNT, "aws:PrincipalArn": role}
    blocked = [
        str(a)
        for a in _authorized(callers, callers.requests["agent"])
        if not endpoint_allows(policy, a.action, a.resource, {**a.context, **principal})
    ]
    assert blocked == []


@pytest.mark.parametrize("caller", ["invoke", "console"])
def test_a_person_holding_the_analyst_policy_can_run_and_review_a_job(callers: Callers, caller: str):
    requests = callers.requests[caller]
    found = _authorized(callers, requests)
    actions = {a.action for a in found}
    assert actions == {"bedrock-agentcore:InvokeAgentRuntime", "s3:PutObject", "s3:GetObject", "s3:ListBucket"}
    runtime = callers.runtime_arn
    invoked = {a.resource for a in found if a.action == "bedrock-agentcore:InvokeAgentRuntime"}
    assert invoked == {runtime, f"{runtime}/runtime-endpoint/live"}  # both of the reference's required types
    assert any(r.operation == "PutObject" and r.params["Key"].endswith("/review/decision.json") for r in requests)
    assert _denied(found, callers.policy("analyst")) == []
    set_aside = {(r.model, r.operation) for r in requests if needs_no_permission(r.model, r.operation)}
    assert set_aside <= {("sts", "GetCallerIdentity")}


def test_the_analyst_policy_grants_no_more_than_running_jobs(callers: Callers):
    policy = callers.policy("analyst")
    bucket = f"arn:aws:s3:::{callers.deployed.outputs['artifactBucket']}"
    session = "deep-insight-20260101T000000Z-0123456789abcdef0123456789abcdef"
    refused = {
        "s3:PutObject": f"{bucket}/sessions/{session}/artifacts/final_report.md",  # the agent's output to forge
        "s3:GetObject": f"{bucket}/sessions/{session}/input/someone-elses.csv",
        "s3:DeleteObject": f"{bucket}/{plan_review_key(session)}",
    }
    for action, resource in refused.items():
        assert not allows(policy, action, resource, {}), (action, resource)
    other_runtime = callers.runtime_arn + "x"
    assert not allows(policy, "bedrock-agentcore:InvokeAgentRuntime", other_runtime, {})
    assert not allows(policy, "s3:ListBucket", bucket, {"s3:prefix": "build-sources/"})


def _readme_deployer_services() -> set[str]:
    text = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    match = re.search(r"allowed to create ((?:[\w ]+, )+[\w ]+ and [\w ]+) resources", text.replace("\n  ", " "))
    assert match, "the README's Prerequisites no longer say what the deployer's credentials cover"
    names = re.split(r", | and ", match[1])
    assert set(names) <= set(README_SERVICES), names
    return {README_SERVICES[name] for name in names}


@pytest.mark.parametrize("caller", ["verify", "reap"])
def test_verify_and_reap_use_only_services_the_deployer_is_documented_to_hold(callers: Callers, caller: str):
    requests = callers.requests[caller]
    assert requests, f"{caller} made no request"
    documented = _readme_deployer_services()
    actions = {action_for(r.service, r.operation) for r in requests if not needs_no_permission(r.model, r.operation)}
    undocumented = sorted(a for a in actions if a.split(":")[0] not in documented)
    assert undocumented == [], f"{caller} needs permissions the README's Prerequisites do not mention"
