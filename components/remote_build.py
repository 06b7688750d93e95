"""Images built in CodeBuild: one build run to its end, and the Pulumi dynamic resource that runs it.

What `pulumi up` needs from a remote image build: upload the context archive, start the build on it, wait,
and either get the pushed image's digest or fail with one error that says which phase failed and shows the
end of the build's own log, so nobody has to open the console to see why. A build that outlives its time
is stopped, not left running (and billed) behind a failed deploy. The AWS calls are plain functions over
injected clients (`upload_source`, `run_build`, `image_exists`), tested against moto.

Why a dynamic resource (`RemoteImageBuild`, run by the deployer's own Pulumi process and credentials)
rather than ``aws.lambda_.Invocation`` of a Lambda that starts and waits for the build (AWS's AgentCore
samples):

* ``pulumi preview`` calls only ``diff``: it shows whether the image will be rebuilt (the archive's hash,
  the buildspec or the build environment changed) and builds nothing, uploads nothing.
* A re-run with no change has an equal hash: no upload, no build, and dependents keep their digest.
* ``pulumi refresh`` calls ``read``: the image must still be in the repository under its digest (the
  lifecycle rule may have expired it); if it is gone the resource is gone and the next ``up`` rebuilds it.
* ``pulumi destroy`` deletes nothing of its own: the images go with the repository (``force_delete``
  unless retainData) and the uploaded archives with the sources bucket's one-day expiry.
* A build stopped in CodeBuild ends STOPPED: ``up`` fails naming it, and the next ``up`` builds again. An
  ``up`` interrupted once (Ctrl-C) waits for the build like any in-flight operation; one killed outright
  leaves the build to finish unobserved, its image unreferenced until the lifecycle rule expires it,
  and a pending create that Pulumi reports on the next run.
* A Lambda would cap every build at its 15-minute limit, need its own role, function and log group in
  each stack, and report a failure as a JSON payload rather than as the operation's error. Here the only
  limit is the project's build timeout, and the deployer's credentials (which ``pulumi up`` needs anyway)
  start the build; the build itself runs as the project's role.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi.dynamic

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "FAULT", "TIMED_OUT", "STOPPED"})
"""CodeBuild's final build statuses (StatusType in its API reference); IN_PROGRESS is the only other one."""
DIGEST_VARIABLE = "IMAGE_DIGEST"
"""What the buildspec exports (env.exported-variables) after pushing: ``sha256:<hex>``."""
TAG_VARIABLE = "IMAGE_TAG"
"""What each build is started with: the tag to push, derived from the context archive's hash."""
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


def upload_source(s3: Any, *, bucket: str, key: str, content: bytes) -> None:
    """Put the context archive where the build reads it; S3 checks the bytes against their SHA-256."""
    checksum = base64.b64encode(hashlib.sha256(content).digest()).decode()
    s3.put_object(Bucket=bucket, Key=key, Body=content, ChecksumSHA256=checksum, ContentType="application/zip")


def image_exists(ecr: Any, *, repository: str, digest: str) -> bool:
    """Whether ``repository`` still holds the image ``digest`` (the lifecycle rule may have expired it)."""
    try:
        ecr.describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])
    except (ecr.exceptions.ImageNotFoundException, ecr.exceptions.RepositoryNotFoundException):
        return False
    return True


BUILD_TIMEOUT_SECONDS = 45 * 60
"""How long `pulumi up` waits for one build, queue included, before stopping it (the project's own
timeouts are shorter: components.codebuild_image)."""
WHAT_IS_BUILT = ("archive_sha256", "repository_url", "tag", "buildspec", "environment")
"""The inputs whose change makes a new image; the others (where the archive goes, the profile) do not."""


def clients(region: str, profile: str | None) -> tuple[Any, Any, Any, Any]:
    """S3, CodeBuild, Logs and ECR clients of the deployer's credentials (the stack's aws:profile, if set)."""
    import boto3  # noqa: PLC0415 - only the provider process (at deploy time) needs boto3

    session = boto3.Session(profile_name=profile or None, region_name=region)
    return session.client("s3"), session.client("codebuild"), session.client("logs"), session.client("ecr")


def build_image(props: Mapping[str, Any]) -> dict[str, Any]:
    """Upload the archive, build, and return ``props`` with the build's id, digest and pinned image URI."""
    s3, codebuild, logs, _ = clients(props["region"], props.get("profile"))
    content = Path(props["archive_path"]).read_bytes()
    if hashlib.sha256(content).hexdigest() != props["archive_sha256"]:
        raise BuildFailed(f"{props['archive_path']} changed since the program read it; run `pulumi up` again")
    upload_source(s3, bucket=props["bucket"], key=props["key"], content=content)
    built = run_build(
        codebuild,
        logs,
        props["project"],
        source_location=f"{props['bucket']}/{props['key']}",
        variables={TAG_VARIABLE: props["tag"]},
        timeout_seconds=BUILD_TIMEOUT_SECONDS,
    )
    return {
        **props,
        "build_id": built.build_id,
        "digest": built.digest,
        "image_uri": f"{props['repository_url']}@{built.digest}",
    }


@contextlib.contextmanager
def message_only() -> Any:
    """A failed build reaches `pulumi up` as its message alone: pulumi.dynamic reports a provider's exception
    with ``traceback.format_exc()``, which honours ``sys.tracebacklimit`` (0: no frames, no header).
    Any other exception keeps its traceback: that is a bug, and the frames are what helps. The limit is
    process-wide and is only read after this returns, so it stays set until the provider's next call
    clears it: in the provider process (one per ``pulumi up``) nothing else needs stack frames."""
    if hasattr(sys, "tracebacklimit"):
        del sys.tracebacklimit
    try:
        yield
    except BuildFailed:
        sys.tracebacklimit = 0
        raise


class ImageBuildProvider(pulumi.dynamic.ResourceProvider):
    """create: build; update: build again only when what is built changed; read: is the image still there."""

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        with message_only():
            outs = build_image(props)
        return pulumi.dynamic.CreateResult(id_=f"{props['project']}:{props['tag']}", outs=outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        # The inputs only: not the outputs of the last build, nor where this machine keeps the archive (its
        # hash is what counts).
        ignored = {"build_id", "digest", "image_uri", "archive_path"}
        changed = [k for k in news if not k.startswith("__") and k not in ignored and olds.get(k) != news.get(k)]
        # An update, never a replacement: the new image is pushed before dependents move to it, and the old
        # one stays pullable by digest (nothing is deleted).
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        if all(olds.get(k) == news.get(k) for k in WHAT_IS_BUILT) and olds.get("digest"):
            kept = {k: olds[k] for k in ("build_id", "digest", "image_uri")}
            return pulumi.dynamic.UpdateResult(outs={**news, **kept})
        with message_only():
            outs = build_image(news)
        return pulumi.dynamic.UpdateResult(outs=outs)

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        _, _, _, ecr = clients(props["region"], props.get("profile"))
        repository = str(props["repository_url"]).split("/", 1)[1]
        if not image_exists(ecr, repository=repository, digest=props["digest"]):
            return pulumi.dynamic.ReadResult(id_="", outs={})  # gone: the next `pulumi up` builds it again
        return pulumi.dynamic.ReadResult(id_=id_, outs=props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # images go with their repository, archives with the bucket's expiry


@dataclass(frozen=True)
class RemoteImageBuildArgs:
    region: str
    project: pulumi.Input[str]
    bucket: pulumi.Input[str]
    key: str
    archive_path: str
    """Where this run of the program wrote the archive (content-addressed; the provider re-checks its hash)."""
    archive_sha256: str
    repository_url: pulumi.Input[str]
    tag: str
    buildspec: pulumi.Input[str]
    environment: str
    """The build image, environment type and compute type, as one string: a change rebuilds."""
    profile: str | None = None


class RemoteImageBuild(pulumi.dynamic.Resource, module="images", name="RemoteImageBuild"):
    """Type ``pulumi-python:dynamic/images:RemoteImageBuild``: one image built by CodeBuild and pushed."""

    image_uri: pulumi.Output[str]
    """``<repository url>@sha256:<digest>``."""
    digest: pulumi.Output[str]

    def __init__(self, name: str, args: RemoteImageBuildArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props: dict[str, Any] = {
            "region": args.region,
            "profile": args.profile,
            "project": args.project,
            "bucket": args.bucket,
            "key": args.key,
            "archive_path": args.archive_path,
            "archive_sha256": args.archive_sha256,
            "repository_url": args.repository_url,
            "tag": args.tag,
            "buildspec": args.buildspec,
            "environment": args.environment,
            "build_id": None,
            "digest": None,
            "image_uri": None,
        }
        super().__init__(ImageBuildProvider(), name, props, opts)
