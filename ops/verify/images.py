"""Container image checks: the ECR repositories and the deployed digests in them."""

from __future__ import annotations

from botocore.exceptions import ClientError

from components.aws_facts import is_ecr_public
from components.image import TAG_MUTABILITY
from components.settings import ECR_URI_PATTERN, ImageBuild
from ops.verify.context import CheckList, Context, Result, error_code, short_digest, verdict

CHECKS = CheckList()
check = CHECKS.add


def repository_check(label: str, output: str) -> None:
    def run(ctx: Context) -> Result:
        uri = str(ctx.outputs[output])
        if is_ecr_public(uri):
            # Pulled anonymously from another account's public repository: nothing of this stack's to check.
            return True, f"{uri.split('@', maxsplit=1)[0]} in ECR Public, pinned to {short_digest(uri)}"
        match = ECR_URI_PATTERN.match(uri)
        if not match:
            return False, f"{output} {uri} is not a digest-pinned ECR image URI"
        repository, digest = match["repository"], uri.rsplit("@", 1)[1]
        ecr = ctx.client("ecr")
        found = ecr.describe_repositories(registryId=match["account"], repositoryNames=[repository])["repositories"][0]
        problems: list[str] = []
        managed = ctx.settings.images.build is not ImageBuild.PREBUILT
        if managed and not found.get("imageScanningConfiguration", {}).get("scanOnPush"):
            problems.append(f"{repository} has scan on push off")
        if managed and found.get("imageTagMutability") != TAG_MUTABILITY:
            problems.append(
                f"{repository} has {found.get('imageTagMutability')} tags, expected {TAG_MUTABILITY} "
                "(a rebuild of an unchanged context must move its tag)"
            )
        try:
            ecr.describe_images(
                registryId=match["account"], repositoryName=repository, imageIds=[{"imageDigest": digest}]
            )
        except ClientError as error:
            if error_code(error) != "ImageNotFoundException":
                raise
            problems.append(f"the deployed digest {short_digest(uri)} is not in {repository} ({output})")
        settings = "scan on push, mutable tags, " if managed else "prebuilt image, "
        return verdict(problems, f"{repository}: {settings}deployed digest {short_digest(uri)} present")

    check(label)(run)


repository_check("Executor repository", "executorImageUri")
repository_check("Agent repository", "agentImageUri")
