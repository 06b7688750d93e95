"""An image built in AWS: its context archive, CodeBuild project, build role and build log (images.build codebuild).

The context (exactly what the image's ignore file lets through) is archived deterministically
(components.build_archive), so the archive's SHA-256 is the same from any checkout; it names the S3 key
and the image tag, and `RemoteImageBuild` (components.remote_build) uploads and builds only when it (or the
buildspec, or the build environment) changes. The project builds natively: an ARM container for
``linux/arm64``, an x86 one for ``linux/amd64`` (the executor with executor.architecture x86_64), so no
emulation. Each image has its own project, log group and role; the role reads that image's sources,
writes that project's log group and pushes to that image's repository, and nothing else.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.build_archive import Archive, build_archive
from components.buildspec import image_buildspec, render
from components.iam import CODEBUILD, Document, allow, document, service_trust
from components.remote_build import TAG_VARIABLE, RemoteImageBuild, RemoteImageBuildArgs
from components.role import role_with_policy
from components.settings import ResourceTags

SOURCES_PREFIX = "sources/"
SOURCES_EXPIRE_AFTER_DAYS = 1
"""The archives are needed only while their build runs; S3's shortest expiry is one day."""
BUILD_TIMEOUT_MINUTES = 30
QUEUED_TIMEOUT_MINUTES = 10


@dataclass(frozen=True)
class BuildEnvironment:
    type: str
    image: str
    compute_type: str
    quota: str
    """The account's quota of concurrently running builds of this kind (its name in "Quotas for AWS CodeBuild",
    limits.html, and in Service Quotas): a new account may have 0 or 1, and StartBuild is refused beyond it."""

    def fingerprint(self) -> str:
        return f"{self.type} {self.image} {self.compute_type}"


# CodeBuild's curated images ("Docker images provided by CodeBuild", build-env-ref-available.html); the
# ARM one is what AWS's AgentCore samples build with. Small: 2 vCPUs and 4 GiB (ProjectEnvironment.computeType
# in the API reference), enough for two Python images from wheels, and the cheapest per minute.
ENVIRONMENTS: dict[str, BuildEnvironment] = {
    "linux/arm64": BuildEnvironment(
        "ARM_CONTAINER",
        "aws/codebuild/amazonlinux2-aarch64-standard:3.0",
        "BUILD_GENERAL1_SMALL",
        "Concurrently running builds for ARM/Small environment",
    ),
    "linux/amd64": BuildEnvironment(
        "LINUX_CONTAINER",
        "aws/codebuild/amazonlinux2-x86_64-standard:5.0",
        "BUILD_GENERAL1_SMALL",
        "Concurrently running builds for Linux/Small environment",
    ),
}


def source_key(runtime: str, archive_sha256: str) -> str:
    return f"{SOURCES_PREFIX}{runtime}/{archive_sha256}.zip"


def project_arn(*, partition: str, region: str, account_id: str, project: str) -> str:
    return f"arn:{partition}:codebuild:{region}:{account_id}:project/{project}"


def image_build_policy(*, sources_bucket_arn: str, runtime: str, log_group_arn: str, repository_arn: str) -> Document:
    """The build role's policy: read this image's archives, write this project's log, push to this repository."""
    return document(
        # GetObjectVersion as well: CodeBuild's own service-role policy grants both on an S3 source
        # ("S3GetObjectPolicy" in its user guide, setting-up-service-role.html), as CDK's S3 source does
        # (Bucket.grantRead: s3:GetObject*).
        allow(
            "ReadBuildSources",
            ["s3:GetObject", "s3:GetObjectVersion"],
            [f"{sources_bucket_arn}/{SOURCES_PREFIX}{runtime}/*"],
        ),
        # CodeBuild checks who owns an S3 source's bucket before it downloads (the "S3BucketIdentity"
        # statement of the service-role policy in CodeBuild's user guide).
        allow("CheckBuildSourcesBucket", ["s3:GetBucketAcl", "s3:GetBucketLocation"], [sources_bucket_arn]),
        allow("WriteBuildLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group_arn}:log-stream:*"]),
        allow("EcrToken", ["ecr:GetAuthorizationToken"], "*"),  # has no resource-level permissions
        allow(
            "PushImage",
            [
                "ecr:BatchCheckLayerAvailability",
                "ecr:CompleteLayerUpload",
                "ecr:InitiateLayerUpload",
                "ecr:PutImage",
                "ecr:UploadLayerPart",
            ],
            [repository_arn],
        ),
    )


def write_archive(archive: Archive) -> Path:
    """The archive as a file for the build resource to upload: content-addressed, so any run may share it."""
    folder = Path(tempfile.gettempdir()) / "deep-insight-build-sources"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"{archive.sha256}.zip"
    if not path.is_file() or path.read_bytes() != archive.content:
        partial = path.with_suffix(f".{id(archive)}.partial")
        partial.write_bytes(archive.content)
        partial.replace(path)
    return path


@dataclass(frozen=True)
class RemoteBuild:
    """What every image built in CodeBuild shares: the stack's sources bucket, account and region."""

    sources_bucket: pulumi.Input[str]
    sources_bucket_arn: pulumi.Input[str]
    region: str
    account_id: str
    log_retention_days: int


@dataclass(frozen=True)
class CodeBuildImageArgs:
    runtime: str
    platform: str
    project_dir: Path
    repository_url: pulumi.Input[str]
    repository_arn: pulumi.Input[str]
    remote: RemoteBuild
    partition: str
    tags: ResourceTags


class CodeBuildImage(pulumi.ComponentResource):
    image_uri: pulumi.Output[str]
    """Digest-pinned: ``<repository url>@sha256:<digest>``."""
    tag: str
    """The first 16 hex digits of the context archive's SHA-256."""

    def __init__(self, name: str, args: CodeBuildImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("deep-insight:image:CodeBuildImage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        environment = ENVIRONMENTS[args.platform]
        dockerfile = f"runtimes/{args.runtime}/Dockerfile"
        archive = build_archive(args.project_dir, args.project_dir / dockerfile)
        self.tag = archive.sha256[:16]
        project_name = f"{args.tags.prefix}-{args.runtime}-image"
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/codebuild/{project_name}",
            retention_in_days=args.remote.log_retention_days,
            tags=args.tags.named(f"{args.runtime}-image-logs"),
            opts=child,
        )
        policy = pulumi.Output.all(args.remote.sources_bucket_arn, log_group.arn, args.repository_arn).apply(
            lambda arns: image_build_policy(
                sources_bucket_arn=arns[0], runtime=args.runtime, log_group_arn=arns[1], repository_arn=arns[2]
            )
        )
        arn = project_arn(
            partition=args.partition, region=args.remote.region, account_id=args.remote.account_id, project=project_name
        )
        role, role_policy = role_with_policy(
            f"{name}-build",
            description=f"CodeBuild: build the {args.runtime} image and push it to its repository",
            trust=service_trust(CODEBUILD, account_id=args.remote.account_id, source_arn=arn),
            policy=policy,
            tags=args.tags,
            tag_name=f"{args.runtime}-image-build",
            parent=self,
        )
        # The tag is a build variable ($IMAGE_TAG), so the project (and its buildspec) changes only when the
        # recipe does, not with every source change.
        buildspec = pulumi.Output.from_input(args.repository_url).apply(
            lambda url: render(
                image_buildspec(dockerfile=dockerfile, image=f"{url}:${TAG_VARIABLE}", platform=args.platform)
            )
        )
        project = aws.codebuild.Project(
            f"{name}-project",
            name=project_name,
            description=f"Builds the {args.runtime} image ({args.platform}) from its context archive",
            service_role=role.arn,
            build_timeout=BUILD_TIMEOUT_MINUTES,
            queued_timeout=QUEUED_TIMEOUT_MINUTES,
            source={
                "type": "S3",
                # Each build names its own archive (sourceLocationOverride): the project stays put when sources change.
                "location": pulumi.Output.concat(args.remote.sources_bucket, f"/{SOURCES_PREFIX}{args.runtime}/"),
                "buildspec": buildspec,
            },
            artifacts={"type": "NO_ARTIFACTS"},
            environment={
                "type": environment.type,
                "image": environment.image,
                "compute_type": environment.compute_type,
                "privileged_mode": True,  # docker build needs the Docker daemon
                "image_pull_credentials_type": "CODEBUILD",
            },
            logs_config={"cloudwatch_logs": {"group_name": log_group.name, "status": "ENABLED"}},
            tags=args.tags.named(f"{args.runtime}-image"),
            # The role's policy before the first build: CodeBuild assumes the role when a build starts.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
        )
        build = RemoteImageBuild(
            f"{name}-build",
            RemoteImageBuildArgs(
                region=args.remote.region,
                account_id=args.remote.account_id,
                project=project.name,
                bucket=args.remote.sources_bucket,
                key=source_key(args.runtime, archive.sha256),
                archive_path=str(write_archive(archive)),
                archive_sha256=archive.sha256,
                repository_url=args.repository_url,
                tag=self.tag,
                buildspec=buildspec,
                environment=environment.fingerprint(),
                quota=environment.quota,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
        )
        self.image_uri = build.image_uri
        self.register_outputs({"imageUri": self.image_uri, "projectName": project.name})
