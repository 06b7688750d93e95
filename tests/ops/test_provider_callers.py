"""The dynamic providers' own AWS requests, proven against the deployer's permissions as the README states them.

The image build, the session sweeper and log retention act with the deployer's credentials (the stack's AWS
provider's: components/stack_aws.py). Each provider is driven here, in this process, as the engine's host drives
it (configured with the stack's configuration, then create / update / read / delete) on the state of a dev stack
deployed into a moto server (tests/ops/deployed.py), and every request it makes is recorded: the providers make
their own botocore sessions (`StackSession`), which register the recorder's hooks as they are made
(`in_every_new_session`), so the provider's code and its clients are the real ones. The image build runs each
path its code has: a build that pushes, an update that builds again and one that does not, a refresh that finds
the image and one that does not, a failed build (its log read), and a build past its time (stopped:
`BUILD_TIMEOUT_SECONDS` shortened to 0).
CodeBuild's side of a build (the buildspec's push and its exported digest, a failed phase, a build still running)
is written into moto's BatchGetBuilds answer, as tests/components/test_remote_build.py does.

Each request's IAM action comes from the Service Authorization Reference (`tests.aws_requests.authorizations`,
which also names the resource it is authorized on); STS GetCallerIdentity, the account check, needs no
permission (botocore's model). At the grain of verify and reap (tests/ops/test_iam_callers.py), every action's
service must be one the README's Prerequisites name; the CodeBuild actions must stay within the narrower
permission the README names for builds ("to start, read and stop the stack's CodeBuild builds"), evaluated as a
policy granting those verbs on the stack's projects; and the image build's actions are those
docs/architecture.md lists for the deployer's credentials.

Not proven: that the deployer's real policy grants these actions (the README names services, not actions,
apart from the builds); requests the providers make only with other credential forms (the AssumeRole of
``aws:assumeRoles``, the web identity: the AWS provider needs the same ones); a retried StartBuild (the same
action); and anything AWS authorizes beyond the reference (SCPs, permission boundaries, resource policies).
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pulumi.dynamic
import pytest

from components import remote_build
from components.log_retention import RetentionProvider
from components.remote_build import BuildFailed, ImageBuildProvider
from components.sweeper import SweeperProvider
from tests.aws_reference import action_for, actions_matching, allows, needs_no_permission, privilege
from tests.aws_requests import Authorization, Recorder, Request, World, authorizations, in_every_new_session
from tests.moto_server import hold_ecs_tasks
from tests.ops.deployed import Deployed, deploy, leave_session, manifest, shared_client
from tests.ops.test_iam_callers import PROJECT_DIR, _readme_deployer_services

ACCOUNT = "123456789012"  # moto's account for keys it does not know
IMAGE_BUILD = "pulumi-python:dynamic/images:RemoteImageBuild"
SWEEPER = "pulumi-python:dynamic/ecs:SessionSweeper"
LOG_RETENTION = "pulumi-python:dynamic/logs:RuntimeLogRetention"
PROJECT = "aws:codebuild/project:Project"
PROVIDERS = ("image build", "session sweep", "log retention")


@dataclass
class CodeBuildSide:
    """What CodeBuild does with a build, which moto ends at once as SUCCEEDED exporting nothing: ``pushed`` runs
    the buildspec (an ECR PutImage of the tag, then the digest exported), ``failed`` fails its BUILD phase with
    its log where the project's logs go, ``running`` has it still IN_PROGRESS."""

    region: str
    repository: str
    tag: str
    log: tuple[str, str]
    outcome: str = "pushed"
    pushes: int = 0

    def __call__(self, parsed: dict[str, Any], **_: Any) -> None:
        for build in parsed.get("builds", []):
            if self.outcome == "running":
                build.update(buildStatus="IN_PROGRESS", currentPhase="BUILD")
            elif self.outcome == "failed":
                build.update(
                    buildStatus="FAILED",
                    phases=[{"phaseType": "BUILD", "phaseStatus": "FAILED"}],
                    logs={"groupName": self.log[0], "streamName": self.log[1]},
                )
            else:
                self.pushes += 1
                pushed = shared_client("ecr", self.region).put_image(
                    repositoryName=self.repository, imageManifest=manifest(f"pushed-{self.pushes}"), imageTag=self.tag
                )
                digest = pushed["image"]["imageId"]["imageDigest"]
                build["exportedEnvironmentVariables"] = [{"name": "IMAGE_DIGEST", "value": digest}]


@dataclass
class Recorded:
    deployed: Deployed
    requests: dict[str, list[Request]] = field(default_factory=dict)
    """Provider (its ``acting``) -> what it asked of AWS, in order."""
    outcomes: dict[str, Any] = field(default_factory=dict)

    @property
    def region(self) -> str:
        return self.deployed.outputs["region"]

    def props(self, type_token: str) -> list[dict[str, Any]]:
        """The state `pulumi up` left for each dynamic resource of that type: its inputs, with moto's ids."""
        found = [dict(a.inputs) for a in self.deployed.applied if a.declared.type == type_token]
        for props in found:
            props.pop("__provider", None)
        return found


def _configured(provider: Any, region: str) -> Any:
    """What the provider host does first: configure the provider with the stack's configuration."""
    provider.configure(pulumi.dynamic.ConfigureRequest(pulumi.dynamic.Config({"aws:region": region}, "deep-insight")))
    return provider


def _moto_api(endpoint: str, path: str, body: dict[str, Any] | None = None) -> None:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{endpoint}/moto-api/{path}", data=data, method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass


def _image_build(found: Recorded, patch: pytest.MonkeyPatch) -> None:
    """Every path of the image build's provider on one of the dev stack's images, the agent's (one recording)."""
    (props, *_) = sorted(found.props(IMAGE_BUILD), key=lambda p: p["project"])
    (project,) = [
        a.inputs for a in found.deployed.applied if a.declared.type == PROJECT and a.inputs["name"] == props["project"]
    ]
    region, bucket = found.region, props["bucket"]
    log = (project["logsConfig"]["cloudwatchLogs"]["groupName"], "build-stream")
    logs = shared_client("logs", region)
    logs.create_log_stream(logGroupName=log[0], logStreamName=log[1])
    logs.put_log_events(
        logGroupName=log[0],
        logStreamName=log[1],
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "step 4/9 failed"}],
    )
    repository = str(props["repository_url"]).split("/", 1)[1]
    side = CodeBuildSide(region, repository, props["tag"], log)
    # moto evaluates the sources bucket's TLS-only Deny without its Condition (moto/s3/responses.py), refusing the
    # upload AWS allows over HTTPS: it is lifted while the provider runs, as tests/ops/translate_services.py does.
    s3 = shared_client("s3", region)
    held = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    s3.delete_bucket_policy(Bucket=bucket)
    recorder = Recorder()
    outcomes: dict[str, Any] = {}
    try:
        with in_every_new_session([*recorder.handlers(), ("after-call.codebuild.BatchGetBuilds", side)]):
            provider = _configured(ImageBuildProvider(), region)
            created = provider.create(dict(props))
            outs = created.outs
            outcomes["created"] = outs["digest"]
            kept = provider.update(created.id, outs, dict(props)).outs  # nothing built changed: no build
            outcomes["kept"] = kept["digest"]
            side.tag = "rebuilt"
            rebuilt = provider.update(created.id, outs, {**props, "tag": "rebuilt"}).outs
            outcomes["rebuilt"] = rebuilt["digest"]
            outcomes["refreshed"] = provider.read(created.id, rebuilt).id
            shared_client("ecr", region).batch_delete_image(
                repositoryName=repository, imageIds=[{"imageDigest": rebuilt["digest"]}]
            )
            outcomes["expired"] = provider.read(created.id, rebuilt).id
            side.outcome = "failed"
            with pytest.raises(BuildFailed) as failed:
                provider.create(dict(props))
            outcomes["failed"] = str(failed.value)
            side.outcome = "running"
            patch.setattr(remote_build, "BUILD_TIMEOUT_SECONDS", 0)
            with pytest.raises(BuildFailed) as stopped:
                provider.create(dict(props))
            outcomes["stopped"] = str(stopped.value)
            provider.delete(created.id, rebuilt)
    finally:
        s3.put_bucket_policy(Bucket=bucket, Policy=held)
    found.requests["image build"] = recorder.requests
    found.outcomes["image build"] = outcomes


def _session_sweep(found: Recorded) -> None:
    """The sweeper's create, update, read and delete, with a live session and a crashed one left running."""
    leave_session(found.deployed, "live-session-started-this-second-000", timedelta(0))
    leave_session(found.deployed, "orphan-from-a-crashed-runtime-000000", timedelta(hours=3))
    (props,) = found.props(SWEEPER)
    recorder = Recorder()
    with in_every_new_session(recorder.handlers()):
        provider = _configured(SweeperProvider(), found.region)
        created = provider.create(dict(props))
        provider.update(created.id, props, dict(props))
        provider.read(created.id, props)
        provider.delete(created.id, props)
    found.requests["session sweep"] = recorder.requests
    ecs = shared_client("ecs", found.region)
    found.outcomes["session sweep"] = ecs.list_tasks(
        cluster=found.deployed.outputs["clusterArn"], desiredStatus="RUNNING"
    )


def _log_retention(found: Recorded) -> None:
    """Log retention's create (AgentCore's group already there), update to another retention, read, delete."""
    (props, *_) = found.props(LOG_RETENTION)
    recorder = Recorder()
    with in_every_new_session(recorder.handlers()):
        provider = _configured(RetentionProvider(), found.region)
        created = provider.create(dict(props))
        longer = {**props, "days": 365}
        provider.update(created.id, props, longer)
        provider.read(created.id, longer)
        provider.delete(created.id, longer)
    found.requests["log retention"] = recorder.requests
    groups = shared_client("logs", found.region).describe_log_groups(logGroupNamePrefix=props["log_group_name"])
    found.outcomes["log retention"] = [g.get("retentionInDays") for g in groups["logGroups"]]


@pytest.fixture(scope="module")
def recorded(moto_endpoint: str) -> Iterator[Recorded]:
    _moto_api(moto_endpoint, "reset")
    hold_ecs_tasks(moto_endpoint)  # the sessions left for the sweep stay RUNNING until it stops them
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
                patch.delenv(name, raising=False)
            patch.setenv("AWS_ENDPOINT_URL", moto_endpoint)  # the deployer's own credentials: the default path
            patch.setenv("AWS_ACCESS_KEY_ID", "testing")
            patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
            patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
            found = Recorded(deploy("dev"))
            patch.setenv("AWS_DEFAULT_REGION", "eu-west-1")  # not the stack's: the providers use the stack's region
            _image_build(found, patch)
            _session_sweep(found)
            _log_retention(found)
            yield found
    finally:  # moto's reset keeps the state manager's transitions: the next module gets moto's default back
        _moto_api(moto_endpoint, "state-manager/unset-transition", {"model_name": "ecs::task"})


def _authorized(found: Recorded, requests: list[Request]) -> list[Authorization]:
    world = World(found.region, ACCOUNT, lambda _: [])
    return [a for r in requests if not needs_no_permission(r.model, r.operation) for a in authorizations(r, world)]


def test_each_provider_really_did_its_work(recorded: Recorded):
    build = recorded.outcomes["image build"]
    assert build["created"].startswith("sha256:")
    assert build["kept"] == build["created"]
    assert build["rebuilt"].startswith("sha256:")
    assert build["rebuilt"] != build["created"]
    assert (bool(build["refreshed"]), build["expired"]) == (True, "")
    assert "FAILED in BUILD; its log ends:\n  step 4/9 failed" in build["failed"]
    assert build["stopped"].endswith("ran longer than 0 s and was stopped")
    assert recorded.outcomes["session sweep"]["taskArns"] == []
    assert recorded.outcomes["log retention"] == [365]


def test_what_each_provider_asks_of_aws(recorded: Recorded):
    """The recording works, and shows what each provider needs (a change to it shows here first)."""
    actions = {
        provider: sorted({action_for(r.service, r.operation) for r in requests})
        for provider, requests in recorded.requests.items()
    }
    assert actions == {
        "image build": [
            "codebuild:BatchGetBuilds", "codebuild:StartBuild", "codebuild:StopBuild", "ecr:DescribeImages",
            "logs:GetLogEvents", "s3:PutObject", "sts:GetCallerIdentity",
        ],
        "session sweep": [
            "ecs:DescribeTasks", "ecs:ListTasks", "ecs:StopTask", "elasticloadbalancing:DeleteRule",
            "elasticloadbalancing:DeleteTargetGroup", "elasticloadbalancing:DescribeRules",
            "elasticloadbalancing:DescribeTags", "elasticloadbalancing:DescribeTargetGroups", "sts:GetCallerIdentity",
        ],
        "log retention": ["logs:CreateLogGroup", "logs:PutRetentionPolicy", "sts:GetCallerIdentity"],
    }  # fmt: skip


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_action_is_in_the_reference_and_of_a_service_the_deployer_is_documented_to_hold(
    recorded: Recorded, provider: str
):
    requests = recorded.requests[provider]
    assert requests, f"{provider} made no request"
    set_aside = {(r.model, r.operation) for r in requests if needs_no_permission(r.model, r.operation)}
    assert set_aside == {("sts", "GetCallerIdentity")}  # the account check, before anything else
    found = _authorized(recorded, requests)  # raises for an action or a required resource the reference lacks
    actions = {a.action for a in found}
    assert all(privilege(a) is not None for a in actions)
    documented = _readme_deployer_services()
    undocumented = sorted(a for a in actions if a.split(":")[0] not in documented)
    assert undocumented == [], f"{provider} needs permissions the README's Prerequisites do not mention"


def _readme_build_policy(projects: list[str]) -> dict[str, Any]:
    """The README's permission for builds (\"to <verbs> the stack's CodeBuild builds\") as a policy: ``read`` is
    the reference's Read-level CodeBuild actions, another verb its ``<Verb>Build`` action; on the stack's
    projects."""
    text = (PROJECT_DIR / "README.md").read_text(encoding="utf-8").replace("\n  ", " ")
    match = re.search(r"and to ((?:\w+, )*\w+(?: and \w+)?) the stack's CodeBuild builds", text)
    assert match, "the README's Prerequisites no longer say what the deployer may do with the stack's builds"
    actions = []
    for verb in re.split(r", | and ", match[1]):
        if verb == "read":
            actions += [a for a in actions_matching("codebuild:*") if privilege(a)["access_level"] == "Read"]
        else:
            action = f"codebuild:{verb.capitalize()}Build"
            assert privilege(action), f"the README's '{verb}' names no CodeBuild action"
            actions.append(action)
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": projects}]}


def test_the_build_calls_stay_within_what_the_readme_lets_the_deployer_do_with_builds(recorded: Recorded):
    projects = [
        f"arn:aws:codebuild:{recorded.region}:{ACCOUNT}:project/{a.inputs['name']}"
        for a in recorded.deployed.applied
        if a.declared.type == PROJECT
    ]
    found = [a for a in _authorized(recorded, recorded.requests["image build"]) if a.action.startswith("codebuild:")]
    assert found
    assert {a.resource for a in found} <= set(projects)  # each on the stack's own project
    policy = _readme_build_policy(projects)
    assert [str(a) for a in found if not allows(policy, a.action, a.resource, a.context)] == []


def _architecture_build_actions() -> set[str]:
    """The actions docs/architecture.md says the deployer's credentials need for a build (a name without a
    service prefix has the one before it)."""
    text = " ".join((PROJECT_DIR / "docs" / "architecture.md").read_text(encoding="utf-8").split())
    match = re.search(r"The deployer's credentials start the builds \(.*?\)\.", text)
    assert match, "docs/architecture.md no longer lists what the deployer's credentials do for a build"
    actions, prefix = set(), ""
    for name in re.findall(r"`([\w:-]+)`", match[0]):
        prefix = name.split(":")[0] if ":" in name else prefix
        actions.add(name if ":" in name else f"{prefix}:{name}")
    return actions


def test_the_image_build_needs_exactly_what_the_architecture_document_lists(recorded: Recorded):
    requests = recorded.requests["image build"]
    needed = {action_for(r.service, r.operation) for r in requests if not needs_no_permission(r.model, r.operation)}
    assert needed == _architecture_build_actions()
