"""remote_build against a real moto server (CodeBuild, CloudWatch Logs) on 127.0.0.1.

moto's CodeBuild finishes every build at once and always as SUCCEEDED, with no exported variables; what
CodeBuild would report differently (a digest the buildspec exported, a failed phase, a build still running)
is written into moto's answer by a botocore hook, in the shape of CodeBuild's API reference (Build,
BuildPhase, ExportedEnvironmentVariable, LogsLocation). Everything else is moto's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from components.remote_build import BuildFailed, run_build
from tests.moto_server import moto_server

REGION = "us-east-1"
PROJECT = "deep-insight-dev-executor-build"
DIGEST = "sha256:" + "ab" * 32
GROUP, STREAM = "/aws/codebuild/deep-insight-dev-executor-build", "build-stream"


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
