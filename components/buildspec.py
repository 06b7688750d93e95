"""The buildspec CodeBuild runs to build one image from its context archive and push it (issue 14).

The archive (components.build_archive) unpacks into CodeBuild's source directory, which is therefore the
build context: the project root, as for a local build. BuildKit is switched on because the Dockerfiles
need it (a ``# syntax=`` line, and an ignore file named after the Dockerfile). Every phase aborts the build
on failure, so a failed ``docker build`` is not followed by a push; after the push, the image's digest is
exported for components.remote_build to hand to the task definition and the AgentCore runtime.
"""

from __future__ import annotations

from typing import Any

import yaml

from components.remote_build import DIGEST_VARIABLE

BUILDSPEC_VERSION = 0.2


def image_buildspec(*, dockerfile: str, image: str, platform: str) -> dict[str, Any]:
    """Build ``dockerfile`` (relative to the context) for ``platform`` (``linux/arm64``) as ``image``
    (``<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>``) and push it."""
    registry = image.split("/", 1)[0]
    return {
        "version": BUILDSPEC_VERSION,
        "env": {"variables": {"DOCKER_BUILDKIT": "1"}, "exported-variables": [DIGEST_VARIABLE]},
        "phases": {
            "pre_build": {
                "on-failure": "ABORT",
                "commands": [
                    f'aws ecr get-login-password --region "$AWS_DEFAULT_REGION" '
                    f"| docker login --username AWS --password-stdin {registry}"
                ],
            },
            "build": {
                "on-failure": "ABORT",
                "commands": [f"docker build --platform {platform} --file {dockerfile} --tag {image} ."],
            },
            "post_build": {
                "on-failure": "ABORT",
                "commands": [
                    f"docker push {image}",
                    # RepoDigests holds <repository>@sha256:<hex> once pushed; the digest is what follows the @.
                    f"export {DIGEST_VARIABLE}=$(docker inspect --format '{{{{index .RepoDigests 0}}}}' {image}"
                    " | cut -d@ -f2)",
                ],
            },
        },
    }


def render(spec: dict[str, Any]) -> str:
    """The buildspec as the YAML CodeBuild reads (a project's ``buildspec`` field)."""
    return yaml.safe_dump(spec, sort_keys=False, width=1000)
