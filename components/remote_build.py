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

The deployer's credentials are the stack's AWS provider's, read from the stack's configuration when the
provider runs (`components.stack_aws`), and checked to act in the stack's account before anything is
uploaded or started. A new account may run no or one build at a time: CodeBuild then refuses StartBuild
with AccountLimitExceededException, which `start_build` retries (exponential backoff, full jitter) until
the build's deadline, then names the quota to raise.
"""

from __future__ import annotations

import base64
import hashlib
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi.dynamic

from components.provider_errors import OneLineError
from components.stack_aws import StackAwsProvider, StackSession

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "FAULT", "TIMED_OUT", "STOPPED"})
"""CodeBuild's final build statuses (StatusType in its API reference); IN_PROGRESS is the only other one."""
DIGEST_VARIABLE = "IMAGE_DIGEST"
"""What the buildspec exports (env.exported-variables) after pushing: ``sha256:<hex>``."""
TAG_VARIABLE = "IMAGE_TAG"
"""What each build is started with: the tag to push, derived from the context archive's hash."""
LOG_LINES = 20
LIMIT_BACKOFF_SECONDS = (5.0, 60.0)
"""StartBuild refused for the account's build quota: retry after up to 5 s, doubling up to 60 s."""


class BuildFailed(OneLineError):
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


def start_build(
    codebuild: Any,
    parameters: Mapping[str, Any],
    *,
    deadline: float,
    quota: str,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    jitter: Callable[[float], float] = lambda ceiling: random.uniform(0, ceiling),
) -> Mapping[str, Any]:
    """StartBuild, retried while the account's concurrent-build quota refuses it, up to ``deadline``.

    botocore's retry modes leave AccountLimitExceededException alone (it is no throttling code in
    botocore/retries/standard.py), and rightly: the quota frees up only when another build ends. So: full
    jitter ("Exponential Backoff And Jitter", AWS Architecture Blog), never past the deadline."""
    ceiling, cap = LIMIT_BACKOFF_SECONDS
    while True:
        try:
            return codebuild.start_build(**parameters)["build"]
        except codebuild.exceptions.AccountLimitExceededException as refused:
            delay = jitter(ceiling)
            if clock() + delay > deadline:
                reason = refused.response.get("Error", {}).get("Message") or "AccountLimitExceededException"
                raise BuildFailed(
                    f"CodeBuild would not start {parameters['projectName']} before the build's deadline ({reason}): "
                    f"the account's quota '{quota}' in {codebuild.meta.region_name} is used up; raise it in the "
                    "Service Quotas console (AWS services, AWS CodeBuild; new accounts may start at 0 or 1), or "
                    "run `pulumi up` again once other builds are done"
                ) from None
            sleep(delay)
            ceiling = min(cap, ceiling * 2)


def run_build(
    codebuild: Any,
    logs: Any,
    project: str,
    *,
    source_location: str,
    variables: Mapping[str, str],
    quota: str = "Concurrently running builds",
    timeout_seconds: float = 3600,
    poll_seconds: float = 5,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    jitter: Callable[[float], float] = lambda ceiling: random.uniform(0, ceiling),
) -> Built:
    """Build ``source_location`` (``bucket/key`` of the context archive) with ``project``; the pushed digest.

    ``timeout_seconds`` bounds it all: waiting for the quota to start, the queue and the build itself."""
    deadline = clock() + timeout_seconds
    parameters = {
        "projectName": project,
        "sourceTypeOverride": "S3",
        "sourceLocationOverride": source_location,
        "environmentVariablesOverride": [
            {"name": name, "value": value, "type": "PLAINTEXT"} for name, value in variables.items()
        ],
    }
    started = start_build(
        codebuild, parameters, deadline=deadline, quota=quota, sleep=sleep, clock=clock, jitter=jitter
    )
    build_id = started["id"]
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
"""The inputs whose change makes a new image; the others (where the archive goes, the account) do not."""


def clients(session: StackSession) -> tuple[Any, Any, Any, Any]:
    """S3, CodeBuild, Logs and ECR clients acting as the stack's AWS provider."""
    return session.client("s3"), session.client("codebuild"), session.client("logs"), session.client("ecr")


def build_image(props: Mapping[str, Any], session: StackSession) -> dict[str, Any]:
    """Upload the archive, build, and return ``props`` with the build's id, digest and pinned image URI."""
    s3, codebuild, logs, _ = clients(session)
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
        quota=props["quota"],
        timeout_seconds=BUILD_TIMEOUT_SECONDS,
    )
    return {
        **props,
        "build_id": built.build_id,
        "digest": built.digest,
        "image_uri": f"{props['repository_url']}@{built.digest}",
    }


class ImageBuildProvider(StackAwsProvider):
    """create: build; update: build again only when what is built changed; read: is the image still there."""

    acting = "image build"

    def _session(self, props: Mapping[str, Any]) -> StackSession:
        return self.stack_session(props["region"], props.get("account_id"))

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        outs = build_image(props, self._session(props))
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
        return pulumi.dynamic.UpdateResult(outs=build_image(news, self._session(news)))

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        _, _, _, ecr = clients(self._session(props))
        repository = str(props["repository_url"]).split("/", 1)[1]
        if not image_exists(ecr, repository=repository, digest=props["digest"]):
            return pulumi.dynamic.ReadResult(id_="", outs={})  # gone: the next `pulumi up` builds it again
        return pulumi.dynamic.ReadResult(id_=id_, outs=props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # images go with their repository, archives with the bucket's expiry


@dataclass(frozen=True)
class RemoteImageBuildArgs:
    region: str
    account_id: str
    """The stack's account: the build stops unless the credentials act in it."""
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
    quota: str
    """CodeBuild's concurrent-build quota for that environment, named when it stops a build from starting."""


class RemoteImageBuild(pulumi.dynamic.Resource, module="images", name="RemoteImageBuild"):
    """Type ``pulumi-python:dynamic/images:RemoteImageBuild``: one image built by CodeBuild and pushed."""

    image_uri: pulumi.Output[str]
    """``<repository url>@sha256:<digest>``."""
    digest: pulumi.Output[str]

    def __init__(self, name: str, args: RemoteImageBuildArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props: dict[str, Any] = {
            "region": args.region,
            "account_id": args.account_id,
            "project": args.project,
            "bucket": args.bucket,
            "key": args.key,
            "archive_path": args.archive_path,
            "archive_sha256": args.archive_sha256,
            "repository_url": args.repository_url,
            "tag": args.tag,
            "buildspec": args.buildspec,
            "environment": args.environment,
            "quota": args.quota,
            "build_id": None,
            "digest": None,
            "image_uri": None,
        }
        super().__init__(ImageBuildProvider(), name, props, opts)
