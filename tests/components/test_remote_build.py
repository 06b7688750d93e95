"""remote_build against a real moto server (CodeBuild, CloudWatch Logs) on 127.0.0.1.

moto's CodeBuild finishes every build at once and always as SUCCEEDED, with no exported variables; what
CodeBuild would report differently (a digest the buildspec exported, a failed phase, a build still running)
is written into moto's answer by a botocore hook, in the shape of CodeBuild's API reference (Build,
BuildPhase, ExportedEnvironmentVariable, LogsLocation). Everything else is moto's.
"""

from __future__ import annotations

import hashlib
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from components import remote_build
from components.remote_build import BuildFailed, ImageBuildProvider, run_build
from tests.moto_server import moto_server
from tests.ops.translate_services import manifest

REGION = "us-east-1"
PROJECT = "deep-insight-dev-executor-build"
DIGEST = "sha256:" + "ab" * 32
GROUP, STREAM = "/aws/codebuild/deep-insight-dev-executor-build", "build-stream"


@pytest.fixture(autouse=True)
def traceback_limit_cleared() -> Iterator[None]:
    """A failed build sets sys.tracebacklimit for the provider process (remote_build.message_only); this
    process goes on to run Pulumi's mocks, whose stack walk needs it unset. (Not monkeypatch: its undo
    would put back the value a test's failed build left.)"""
    yield
    if hasattr(sys, "tracebacklimit"):
        del sys.tracebacklimit


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


@pytest.fixture
def deployed(aws, endpoint: str, tmp_path, monkeypatch):
    """The stack's side (bucket, repository, project) in moto, an archive on disk, and the provider's
    clients pointed at moto. CodeBuild's side of a build (running the buildspec: push, export the digest)
    is a hook on BatchGetBuilds that does what the buildspec does: an ECR PutImage, then the digest."""
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
    monkeypatch.setattr(remote_build, "clients", lambda region, profile: (s3, codebuild, logs, ecr))
    content = b"PK\x05\x06" + b"\0" * 18  # an empty ZIP: the provider moves bytes, it does not read them
    archive = tmp_path / "context.zip"
    archive.write_bytes(content)
    sha = hashlib.sha256(content).hexdigest()
    props = {
        "region": REGION,
        "project": PROJECT,
        "bucket": BUCKET,
        "key": f"sources/executor/{sha}.zip",
        "archive_path": str(archive),
        "archive_sha256": sha,
        "repository_url": url,
        "tag": sha[:16],
        "buildspec": "version: 0.2",
        "environment": "ARM_CONTAINER image BUILD_GENERAL1_SMALL",
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
    provider = ImageBuildProvider()
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
    provider = ImageBuildProvider()
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
        ImageBuildProvider().create(dict(deployed.props))
    assert deployed.started == []
    assert "Contents" not in deployed.s3.list_objects_v2(Bucket=BUCKET)


def test_refresh_finds_an_expired_image_gone(deployed):
    provider = ImageBuildProvider()
    outs = provider.create(dict(deployed.props)).outs
    assert provider.read("the-id", outs).id == "the-id"
    deployed.ecr.batch_delete_image(repositoryName=REPOSITORY, imageIds=[{"imageDigest": outs["digest"]}])
    assert provider.read("the-id", outs).id == ""  # gone: the next `pulumi up` builds it again


def test_pulumi_shows_a_failed_build_as_its_message_alone(deployed):
    """pulumi.dynamic's host reports a provider's exception as ``traceback.format_exc()``
    (pulumi/dynamic/__main__.py, _abort_with_traceback): for a failed build that is one clear error."""
    Path(deployed.props["archive_path"]).write_bytes(b"something else")
    try:
        ImageBuildProvider().create(dict(deployed.props))
    except BuildFailed:
        shown = traceback.format_exc()
    assert shown.startswith("components.remote_build.BuildFailed: ")
    assert "Traceback" not in shown
    assert "changed since the program read it" in shown


def test_an_unexpected_error_keeps_its_traceback(deployed):
    sys.tracebacklimit = 0  # left by an earlier failed build (the autouse fixture clears it after)
    Path(deployed.props["archive_path"]).unlink()
    try:
        ImageBuildProvider().create(dict(deployed.props))
    except FileNotFoundError:
        shown = traceback.format_exc()
    assert shown.startswith("Traceback (most recent call last):")
