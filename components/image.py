"""A container image: its ECR repository and, unless ``images.build: prebuilt``, the build and push.

With ``images.build: codebuild`` (the default) CodeBuild builds and pushes it (components.codebuild_image);
with ``local`` the deploying machine's Docker engine does (pulumi-docker).

Used twice (executor, agent). The tag is a hash of the build context, so an unchanged runtime is not
rebuilt or pushed again and a changed one gets a new tag; dependents receive the digest-pinned
``repo_digest`` (``<repo>@sha256:...``), so a code change rolls exactly the task definition or runtime
that uses that image. With ``images.build: prebuilt`` no repository or build is declared: the
configured digest-pinned ECR URI is used and its repository ARN derived from it.

Tags are MUTABLE, on purpose. The tag names the build *context*, not the built image: Docker builds are
not bit-reproducible (another machine, no layer cache, a newer base layer), so building the same context
again yields a new digest under the same tag. With IMMUTABLE tags ECR rejects that push
(ImageTagAlreadyExistsException) and ``pulumi up`` fails, e.g. after a retained repository outlives its
stack, on ``--replace``, or when a push landed but the state update did not. A tag unique per build would
need a value known only after the build (or a random one, which rebuilds on every ``up``). Nothing relies
on a tag staying put: dependents run the digest (policy rule ``images-pinned-by-digest``), a moved tag
leaves the old image pullable by digest until the lifecycle rule counts it out, and the policy pack's
``ecr-rebuildable-tags`` keeps the repository MUTABLE.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker

from components.aws_facts import is_ecr_public
from components.bucket import retain_data_tag
from components.build_context import context_digest
from components.codebuild_image import CodeBuildImage, CodeBuildImageArgs, RemoteBuild
from components.iam import ImagePuller, Statement, image_pull_statements
from components.settings import ECR_URI_PATTERN, ResourceTags

# A rebuild of an unchanged context must be able to move its tag (see the module docstring).
TAG_MUTABILITY = "MUTABLE"


def repository_arn_from_uri(uri: str, partition: str = "aws") -> str | None:
    """The private ECR repository a prebuilt image is in; None for ECR Public, which needs no pull grant."""
    if is_ecr_public(uri):
        return None
    match = ECR_URI_PATTERN.match(uri)
    if not match:
        raise ValueError(f"{uri} is not a digest-pinned ECR image URI")
    return f"arn:{partition}:ecr:{match['region']}:{match['account']}:repository/{match['repository']}"


def ecr_lifecycle_policy(keep_last: int) -> str:
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"keep the last {keep_last} images",
                    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep_last},
                    "action": {"type": "expire"},
                }
            ]
        }
    )


@dataclass(frozen=True)
class ImageArgs:
    runtime: str
    """Folder name under runtimes/ and the repository's short name: ``executor`` or ``agent``."""
    platform: str
    """``linux/arm64`` or ``linux/amd64``: set explicitly, pulumi-docker defaults to the build host's."""
    tags: ResourceTags
    retain: bool
    keep_last: int
    project_dir: Path
    """The Pulumi project directory: the build context; the Dockerfile is ``runtimes/<runtime>/Dockerfile``."""
    prebuilt_uri: str | None = None
    partition: str = "aws"
    remote: RemoteBuild | None = None
    """Set: CodeBuild builds the image (images.build codebuild); unset: the local Docker engine does."""


class ContainerImage(pulumi.ComponentResource):
    image_uri: pulumi.Output[str]
    """Digest-pinned: ``<registry>/<repository>@sha256:<digest>``."""
    repository_arn: pulumi.Output[str | None]
    """The private repository the image is pulled from; None for a prebuilt image in ECR Public."""

    def pull_statements(self, puller: ImagePuller) -> pulumi.Output[list[Statement]]:
        """What ``puller`` needs to pull this image (``Pull<Runtime>Image`` on its repository, the ECR token)."""
        return self.repository_arn.apply(lambda arn: image_pull_statements(arn, sid=self._pull_sid, puller=puller))

    def __init__(self, name: str, args: ImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("deep-insight:image:ContainerImage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self._pull_sid = f"Pull{args.runtime.capitalize()}Image"
        # The repository exists in both modes: `prebuilt` only skips the build (CI pushes, or a preview
        # reuses the running digests). Dropping it would make Pulumi plan to delete a protected repository.
        repository = aws.ecr.Repository(
            f"{name}-repository",
            name=f"{args.tags.prefix}-{args.runtime}",
            image_tag_mutability=TAG_MUTABILITY,
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "AES256"}],
            force_delete=not args.retain,
            tags=args.tags.named(f"{args.runtime}-repository", **retain_data_tag(args.retain)),
            opts=pulumi.ResourceOptions(parent=self, protect=args.retain, retain_on_delete=args.retain),
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=repository.name,
            policy=ecr_lifecycle_policy(args.keep_last),
            opts=child,
        )
        if args.prebuilt_uri is not None:
            # The image may live in another repository (a shared build account): grant pulls on that one;
            # ECR Public needs no grant.
            self.image_uri = pulumi.Output.from_input(args.prebuilt_uri)
            self.repository_arn = pulumi.Output.from_input(repository_arn_from_uri(args.prebuilt_uri, args.partition))
            self.register_outputs({"imageUri": self.image_uri, "repositoryArn": self.repository_arn})
            return

        if args.remote is not None:
            built = CodeBuildImage(
                f"{name}-codebuild",
                CodeBuildImageArgs(
                    runtime=args.runtime,
                    platform=args.platform,
                    project_dir=args.project_dir,
                    repository_url=repository.repository_url,
                    repository_arn=repository.arn,
                    remote=args.remote,
                    partition=args.partition,
                    tags=args.tags,
                ),
                child,
            )
            self.image_uri = built.image_uri
            self.repository_arn = repository.arn
            self.register_outputs({"imageUri": self.image_uri, "repositoryArn": self.repository_arn})
            return

        # Relative to the project directory (where the Pulumi CLI runs the program), so the build's
        # inputs are the same from any checkout; same context, same tag: nothing is rebuilt or pushed.
        # The context is the whole project (the image needs contract/ too); the Dockerfile's own
        # ignore file lets through only what that image COPYs, and the tag hashes exactly that.
        context, dockerfile = ".", f"runtimes/{args.runtime}/Dockerfile"
        tag = context_digest(args.project_dir, args.project_dir / dockerfile)[:16]
        token = aws.ecr.get_authorization_token_output(
            registry_id=repository.registry_id, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        image = docker.Image(
            f"{name}-image",
            build={"context": context, "dockerfile": dockerfile, "platform": args.platform},
            image_name=repository.repository_url.apply(lambda url: f"{url}:{tag}"),
            registry={
                "server": repository.repository_url,
                "username": token.user_name,
                "password": pulumi.Output.secret(token.password),
            },
            opts=child,
        )
        self.image_uri = image.repo_digest
        self.repository_arn = repository.arn
        self.register_outputs({"imageUri": self.image_uri, "repositoryArn": self.repository_arn})
