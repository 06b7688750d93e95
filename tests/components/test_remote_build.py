"""remote_build against a real moto server (CodeBuild, CloudWatch Logs) on 127.0.0.1.

moto's CodeBuild finishes every build at once and always as SUCCEEDED, with no exported variables; what
CodeBuild would report differently (a digest the buildspec exported, a failed phase, a build still running)
is written into moto's answer by a botocore hook, in the shape of CodeBuild's API reference (Build,
BuildPhase, ExportedEnvironmentVariable, LogsLocation). moto never refuses StartBuild for the account's
quota: that answer (AccountLimitExceededException, listed in botocore's CodeBuild model for StartBuild) is
sent back to botocore as the HTTP response of the protocol botocore speaks to CodeBuild (awsJson1_1, first
of the model's protocols in botocore's PRIORITY_ORDERED_SUPPORTED_PROTOCOLS: a 400 whose JSON body names
``__type``), which botocore parses and maps to its exception as for a real one. Everything else is moto's.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pulumi.dynamic
import pytest
from botocore.awsrequest import AWSResponse

from components import remote_build
from components.codebuild_image import ENVIRONMENTS
from components.remote_build import BuildFailed, ImageBuildProvider, run_build
from tests.dynamic_host import HostError, dynamic_host
from tests.moto_server import moto_server
from tests.ops.translate_services import manifest

REGION = "us-east-1"
PROJECT = "deep-insight-dev-executor-build"
DIGEST = "sha256:" + "ab" * 32
GROUP, STREAM = "/aws/codebuild/deep-insight-dev-executor-build", "build-stream"
ACCOUNT = "123456789012"  # moto's account for keys it does not know
QUOTA = ENVIRONMENTS["linux/arm64"].quota


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def aws(endpoint: str) -> Iterator[tuple[Any, Any]]:
    """A CodeBuild project and the clients, fresh for each test (their hooks too)."""
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)
    codebuild = session.client("codebuild", endpoint_url=endpoint)
    logs = session.client("logs", endpoint_url=endpoint)
    codebuild.create_project(
        name=PROJECT,
        source={"type": "S3", "location": "bucket/context.tar.gz"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "ARM_CONTAINER",
            "image": "aws/codebuild/amazonlinux2-aarch64-standard:3.0",
            "computeType": "BUILD_GENERAL1_SMALL",
            "privilegedMode": True,
        },
        serviceRole="arn:aws:iam::123456789012:role/build",
    )
    try:
        yield codebuild, logs
    finally:
        codebuild.delete_project(name=PROJECT)


def answer(codebuild: Any, change) -> None:
    def hook(parsed: dict[str, Any], **_: Any) -> None:
        for build in parsed.get("builds", []):
            change(build)

    codebuild.meta.events.register("after-call.codebuild.BatchGetBuilds", hook)


def test_a_successful_build_gives_the_exported_digest(aws):
    codebuild, logs = aws
    answer(codebuild, lambda b: b.update(exportedEnvironmentVariables=[{"name": "IMAGE_DIGEST", "value": DIGEST}]))
    built = run_build(codebuild, logs, PROJECT, source_location="bucket/ctx.tar.gz", variables={"TAG": "t"})
    assert built.digest == DIGEST
    assert built.build_id in codebuild.list_builds_for_project(projectName=PROJECT)["ids"]  # moto saw the start


def test_a_failed_build_names_its_phase_and_shows_the_end_of_its_log(aws):
    codebuild, logs = aws
    now_ms = int(time.time() * 1000)  # CloudWatch Logs refuses events older than 14 days
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName=STREAM,
        logEvents=[{"timestamp": now_ms + i, "message": f"line {i:02d}"} for i in range(30)],
    )

    def failed(build: dict[str, Any]) -> None:
        build.update(buildStatus="FAILED", logs={"groupName": GROUP, "streamName": STREAM})
        for phase in build["phases"]:
            if phase["phaseType"] == "BUILD":
                phase.update(
                    phaseStatus="FAILED",
                    contexts=[
                        {
                            "statusCode": "COMMAND_EXECUTION_ERROR",
                            "message": "Error while executing command: docker build",
                        }
                    ],
                )

    answer(codebuild, failed)
    with pytest.raises(BuildFailed) as caught:
        run_build(codebuild, logs, PROJECT, source_location="bucket/ctx.tar.gz", variables={})
    message = str(caught.value)
    assert "FAILED in BUILD (Error while executing command: docker build); its log ends:" in message
    assert message.splitlines()[1:] == [f"  line {i:02d}" for i in range(10, 30)]  # the last 20 lines


def test_a_build_past_its_time_is_stopped(aws):
    codebuild, logs = aws
    answer(codebuild, lambda b: b.update(buildStatus="IN_PROGRESS", currentPhase="BUILD"))
    now = [0.0]
    stopped: list[str] = []
    codebuild.meta.events.register(
        "provide-client-params.codebuild.StopBuild", lambda params, **_: stopped.append(params["id"])
    )
    with pytest.raises(BuildFailed, match="ran longer than 60 s and was stopped"):
        run_build(
            codebuild,
            logs,
            PROJECT,
            source_location="b/k",
            variables={},
            timeout_seconds=60,
            poll_seconds=15,
            sleep=lambda s: now.__setitem__(0, now[0] + s),
            clock=lambda: now[0],
        )
    assert len(stopped) == 1
    assert now[0] == 60  # polled every 15 s until the deadline, then stopped


def test_success_without_a_digest_is_a_failure_that_names_the_buildspec(aws):
    codebuild, logs = aws
    with pytest.raises(BuildFailed, match="exported no IMAGE_DIGEST"):
        run_build(codebuild, logs, PROJECT, source_location="b/k", variables={})


# --- the dynamic resource's provider, end to end against moto ---

BUCKET = "deep-insight-dev-build-sources-abcde"
REPOSITORY = "deep-insight-dev-executor"


def configured(provider: ImageBuildProvider) -> ImageBuildProvider:
    """What the provider host does first: configure the provider with the stack's configuration."""
    provider.configure(pulumi.dynamic.ConfigureRequest(pulumi.dynamic.Config({"aws:region": REGION}, "deep-insight")))
    return provider


@pytest.fixture
def deployed(aws, endpoint: str, tmp_path, monkeypatch):
    """The stack's side (bucket, repository, project) in moto, an archive on disk, and the provider's
    clients pointed at moto. CodeBuild's side of a build (running the buildspec: push, export the digest)
    is a hook on BatchGetBuilds that does what the buildspec does: an ECR PutImage, then the digest. The
    provider's own account check reaches moto's STS through the environment."""
    for name, value in (
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    codebuild, logs = aws
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)
    s3, ecr = session.client("s3", endpoint_url=endpoint), session.client("ecr", endpoint_url=endpoint)
    s3.create_bucket(Bucket=BUCKET)
    url = ecr.create_repository(repositoryName=REPOSITORY)["repository"]["repositoryUri"]
    started: list[dict[str, Any]] = []
    codebuild.meta.events.register(
        "provide-client-params.codebuild.StartBuild", lambda params, **_: started.append(params)
    )

    def run_buildspec(build: dict[str, Any]) -> None:
        tag = started[-1]["environmentVariablesOverride"][0]["value"]
        pushed = ecr.put_image(
            repositoryName=REPOSITORY, imageManifest=manifest(f"{REPOSITORY}-{len(started)}"), imageTag=tag
        )
        digest = pushed["image"]["imageId"]["imageDigest"]
        build.update(exportedEnvironmentVariables=[{"name": "IMAGE_DIGEST", "value": digest}])

    answer(codebuild, run_buildspec)
    monkeypatch.setattr(remote_build, "clients", lambda session: (s3, codebuild, logs, ecr))
    content = b"PK\x05\x06" + b"\0" * 18  # an empty ZIP: the provider moves bytes, it does not read them
    archive = tmp_path / "context.zip"
    archive.write_bytes(content)
    sha = hashlib.sha256(content).hexdigest()
    props = {
        "region": REGION,
        "account_id": ACCOUNT,
        "project": PROJECT,
        "bucket": BUCKET,
        "key": f"sources/executor/{sha}.zip",
        "archive_path": str(archive),
        "archive_sha256": sha,
        "repository_url": url,
        "tag": sha[:16],
        "buildspec": "version: 0.2",
        "environment": "ARM_CONTAINER image BUILD_GENERAL1_SMALL",
        "quota": QUOTA,
        "build_id": None,
        "digest": None,
        "image_uri": None,
    }
    try:
        yield SimpleNamespace(s3=s3, ecr=ecr, started=started, props=props, content=content, url=url)
    finally:
        for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=item["Key"])
        s3.delete_bucket(Bucket=BUCKET)
        ecr.delete_repository(repositoryName=REPOSITORY, force=True)


def test_create_uploads_the_archive_builds_it_and_pins_the_pushed_digest(deployed):
    provider = configured(ImageBuildProvider())
    created = provider.create(dict(deployed.props))
    (start,) = deployed.started
    assert start["projectName"] == PROJECT
    assert start["sourceLocationOverride"] == f"{BUCKET}/{deployed.props['key']}"
    assert start["environmentVariablesOverride"] == [
        {"name": "IMAGE_TAG", "value": deployed.props["tag"], "type": "PLAINTEXT"}
    ]
    stored = deployed.s3.get_object(Bucket=BUCKET, Key=deployed.props["key"])["Body"].read()
    assert stored == deployed.content
    (image,) = deployed.ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"]
    assert image["imageTags"] == [deployed.props["tag"]]
    assert created.outs["digest"] == image["imageDigest"]
    assert created.outs["image_uri"] == f"{deployed.url}@{image['imageDigest']}"


def test_update_builds_only_when_what_is_built_changed(deployed):
    provider = configured(ImageBuildProvider())
    outs = provider.create(dict(deployed.props)).outs
    same = provider.update("id", outs, {**deployed.props, "archive_path": deployed.props["archive_path"]})
    assert len(deployed.started) == 1  # nothing new to build
    assert same.outs["image_uri"] == outs["image_uri"]
    changed = provider.update("id", outs, {**deployed.props, "buildspec": "version: 0.2\n# changed"})
    assert len(deployed.started) == 2
    assert changed.outs["image_uri"] != outs["image_uri"]


def test_a_changed_archive_file_is_refused_before_anything_is_uploaded(deployed):
    Path(deployed.props["archive_path"]).write_bytes(b"something else")
    with pytest.raises(BuildFailed, match="changed since the program read it"):
        configured(ImageBuildProvider()).create(dict(deployed.props))
    assert deployed.started == []
    assert "Contents" not in deployed.s3.list_objects_v2(Bucket=BUCKET)


def test_refresh_finds_an_expired_image_gone(deployed):
    provider = configured(ImageBuildProvider())
    outs = provider.create(dict(deployed.props)).outs
    assert provider.read("the-id", outs).id == "the-id"
    deployed.ecr.batch_delete_image(repositoryName=REPOSITORY, imageIds=[{"imageDigest": outs["digest"]}])
    assert provider.read("the-id", outs).id == ""  # gone: the next `pulumi up` builds it again


# --- what `pulumi up` shows: the provider in Pulumi's real provider host (tests/dynamic_host.py) ---


def test_pulumi_shows_a_failed_build_as_its_message_alone(deployed, endpoint):
    """The host reports a provider's exception as ``traceback.format_exc()`` (pulumi/dynamic/__main__.py,
    _abort_with_traceback). moto's build succeeds without exporting a digest: a failed build."""
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    with dynamic_host({"aws:region": REGION}, env) as host, pytest.raises(HostError) as failed:
        host.create(ImageBuildProvider(), deployed.props)
    shown = str(failed.value)
    assert shown.startswith(f"CodeBuild build {PROJECT}:")
    assert shown.endswith("exported no IMAGE_DIGEST (got ''): the buildspec must export the pushed image's digest")
    assert "\n" not in shown


def test_an_unexpected_error_keeps_its_traceback(deployed, endpoint):
    Path(deployed.props["archive_path"]).unlink()
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    with dynamic_host({"aws:region": REGION}, env) as host, pytest.raises(HostError) as failed:
        host.create(ImageBuildProvider(), deployed.props)
    shown = str(failed.value)
    assert shown.startswith("Traceback (most recent call last):")
    assert shown.rstrip().splitlines()[-1].startswith("FileNotFoundError: ")


# --- the account's concurrent-build quota: StartBuild refused, then retried until the deadline ---


LIMIT_MESSAGE = "Cannot have more than 0 builds in queue for the account"


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def refuse_start(codebuild: Any, times: int | None) -> list[int]:
    """CodeBuild's answer to StartBuild over the account's quota, ``times`` times (None: always), then moto's."""
    sent: list[int] = []
    body = json.dumps({"__type": "AccountLimitExceededException", "message": LIMIT_MESSAGE}).encode()

    def send(request: Any, **_: Any) -> AWSResponse | None:
        sent.append(1)
        if times is not None and len(sent) > times:
            return None  # on to moto
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "limit"}
        return AWSResponse(request.url, 400, headers, _Body(body))

    codebuild.meta.events.register("before-send.codebuild.StartBuild", send)
    return sent


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_build_refused_for_the_quota_starts_once_a_retry_gets_through(aws):
    codebuild, logs = aws
    sent = refuse_start(codebuild, times=2)
    answer(codebuild, lambda b: b.update(exportedEnvironmentVariables=[{"name": "IMAGE_DIGEST", "value": DIGEST}]))
    clock, ceilings = Clock(), []
    built = run_build(
        codebuild, logs, PROJECT, source_location="b/k", variables={}, quota=QUOTA, timeout_seconds=600,
        sleep=clock.sleep, clock=lambda: clock.now, jitter=lambda ceiling: ceilings.append(ceiling) or ceiling / 2,
    )  # fmt: skip
    assert built.digest == DIGEST
    assert len(sent) == 3  # one request per attempt: botocore does not retry this error itself
    assert ceilings == [5.0, 10.0]  # exponential, jittered below the ceiling
    assert clock.slept == [2.5, 5.0]
    assert codebuild.list_builds_for_project(projectName=PROJECT)["ids"] == [built.build_id]


def test_the_quota_until_the_deadline_is_one_line_naming_it(aws):
    codebuild, logs = aws
    sent = refuse_start(codebuild, times=None)
    clock = Clock()
    with pytest.raises(BuildFailed) as failed:
        run_build(
            codebuild, logs, PROJECT, source_location="b/k", variables={}, quota=QUOTA, timeout_seconds=300,
            sleep=clock.sleep, clock=lambda: clock.now, jitter=lambda ceiling: ceiling,
        )  # fmt: skip
    assert clock.slept == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0, 60.0]  # the next 60 s would pass the deadline
    assert len(sent) == len(clock.slept) + 1
    message = str(failed.value)
    assert "\n" not in message
    assert message == (
        f"CodeBuild would not start {PROJECT} before the build's deadline ({LIMIT_MESSAGE}): the account's quota "
        "'Concurrently running builds for ARM/Small environment' in us-east-1 is used up; raise it in the Service "
        "Quotas console "
        "(AWS services, AWS CodeBuild; new accounts may start at 0 or 1), or run `pulumi up` again once other builds "
        "are done"
    )
    assert codebuild.list_builds_for_project(projectName=PROJECT)["ids"] == []
