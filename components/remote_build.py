"""Run one CodeBuild build to its end (issue 14: images built in AWS), with the AWS clients passed in.

What `pulumi up` needs from a remote image build: start it on the uploaded context, wait, and either get
the pushed image's digest or fail with one error that says which phase failed and shows the end of the
build's own log, so nobody has to open the console to see why. A build that outlives its time is stopped,
not left running (and billed) behind a failed deploy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "FAULT", "TIMED_OUT", "STOPPED"})
"""CodeBuild's final build statuses (StatusType in its API reference); IN_PROGRESS is the only other one."""
DIGEST_VARIABLE = "IMAGE_DIGEST"
"""What the buildspec exports (env.exported-variables) after pushing: ``sha256:<hex>``."""
LOG_LINES = 20


class BuildFailed(Exception):
    """A build that did not succeed; the message is what `pulumi up` shows."""


@dataclass(frozen=True)
class Built:
    build_id: str
    digest: str


def _failing_phase(build: Mapping[str, Any]) -> str:
    for phase in build.get("phases", []):
        status = phase.get("phaseStatus")
        if status is not None and status != "SUCCEEDED":
            contexts = [c.get("message", "") for c in phase.get("contexts", []) if c.get("message")]
            return phase["phaseType"] + (f" ({'; '.join(contexts)})" if contexts else "")
    return str(build.get("currentPhase", "an unknown phase"))


def log_tail(logs: Any, build: Mapping[str, Any], lines: int = LOG_LINES) -> list[str]:
    """The last ``lines`` lines of the build's CloudWatch log, if CodeBuild says where it is."""
    where = build.get("logs") or {}
    group, stream = where.get("groupName"), where.get("streamName")
    if not group or not stream:
        return []
    events = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=lines, startFromHead=False)
    return [event["message"].rstrip("\n") for event in events.get("events", [])][-lines:]


def run_build(
    codebuild: Any,
    logs: Any,
    project: str,
    *,
    source_location: str,
    variables: Mapping[str, str],
    timeout_seconds: float = 3600,
    poll_seconds: float = 5,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Built:
    """Build ``source_location`` (``bucket/key`` of the context archive) with ``project``; the pushed digest."""
    started = codebuild.start_build(
        projectName=project,
        sourceTypeOverride="S3",
        sourceLocationOverride=source_location,
        environmentVariablesOverride=[
            {"name": name, "value": value, "type": "PLAINTEXT"} for name, value in variables.items()
        ],
    )["build"]
    build_id = started["id"]
    deadline = clock() + timeout_seconds
    while True:
        (build,) = codebuild.batch_get_builds(ids=[build_id])["builds"]
        if build["buildStatus"] in TERMINAL:
            break
        if clock() >= deadline:
            codebuild.stop_build(id=build_id)
            raise BuildFailed(f"CodeBuild build {build_id} ran longer than {timeout_seconds:g} s and was stopped")
        sleep(poll_seconds)
    status = build["buildStatus"]
    exported = {v["name"]: v.get("value", "") for v in build.get("exportedEnvironmentVariables", [])}
    if status == "SUCCEEDED":
        digest = exported.get(DIGEST_VARIABLE, "")
        if not digest.startswith("sha256:"):
            raise BuildFailed(
                f"CodeBuild build {build_id} succeeded but exported no {DIGEST_VARIABLE} "
                f"(got {digest!r}): the buildspec must export the pushed image's digest"
            )
        return Built(build_id, digest)
    tail = log_tail(logs, build)
    shown = "\n".join(f"  {line}" for line in tail) if tail else "  (no log lines: the build may not have started)"
    raise BuildFailed(f"CodeBuild build {build_id} {status} in {_failing_phase(build)}; its log ends:\n{shown}")
