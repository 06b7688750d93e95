"""Container image rules: ECR scans what is pushed, tags may move on a rebuild, and what runs is pinned by digest."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from pulumi_policy import ResourceValidationArgs

if __package__:  # imported as part of the policy package (the tests, deep-insight plan)
    from . import rule_kit
else:  # run by the Pulumi CLI, with the pack's directory as sys.path[0]
    import rule_kit  # pyright: ignore[reportMissingImports]

DIGEST_PINNED = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")


@rule_kit.resource_rule(
    "ecr-scan-on-push",
    "ECR repositories scan every pushed image for vulnerabilities.",
    (rule_kit.REPOSITORY,),
)
def ecr_scan_on_push(args: ResourceValidationArgs) -> Iterator[str]:
    scanning = rule_kit.as_map(args.props.get("imageScanningConfiguration"))
    if scanning.get("scanOnPush") is not True:
        yield f"imageScanningConfiguration.scanOnPush is {scanning.get('scanOnPush')!r}; set it to true"


@rule_kit.resource_rule(
    "ecr-rebuildable-tags",
    "ECR repositories keep tags MUTABLE: a tag names a build context, and rebuilding it (Docker builds are not "
    "bit-reproducible) must move the tag, not fail the push; what runs is pinned by digest.",
    (rule_kit.REPOSITORY,),
)
def ecr_rebuildable_tags(args: ResourceValidationArgs) -> Iterator[str]:
    mutability = args.props.get("imageTagMutability")
    if mutability not in (None, "MUTABLE"):
        yield (
            f"imageTagMutability is {mutability!r}; set MUTABLE (a rebuild of an unchanged context pushes a new "
            "digest under its tag, which ECR rejects with ImageTagAlreadyExistsException)"
        )


def _unpinned(uri: Any) -> bool:
    return not (isinstance(uri, str) and DIGEST_PINNED.match(uri))


@rule_kit.resource_rule(
    "images-pinned-by-digest",
    "Task definitions and AgentCore runtimes reference images by digest (<repository>@sha256:<64 hex>), "
    "so a code change rolls them and nothing else.",
    (rule_kit.TASK_DEFINITION, rule_kit.AGENT_RUNTIME),
)
def images_pinned_by_digest(args: ResourceValidationArgs) -> Iterator[str]:
    if args.resource_type == rule_kit.TASK_DEFINITION:
        definitions = args.props.get("containerDefinitions")
        if isinstance(definitions, str):
            try:
                definitions = json.loads(definitions)
            except ValueError:
                yield "containerDefinitions is not valid JSON, so its images cannot be checked"
                return
        for container in map(rule_kit.as_map, rule_kit.as_list(definitions)):
            if _unpinned(container.get("image")):
                yield f"container {container.get('name')!r} image {container.get('image')!r} is not digest-pinned"
    else:
        artifact = rule_kit.as_map(args.props.get("agentRuntimeArtifact"))
        if "containerConfiguration" in artifact:
            uri = rule_kit.as_map(artifact.get("containerConfiguration")).get("containerUri")
            if _unpinned(uri):
                yield f"agentRuntimeArtifact.containerConfiguration.containerUri {uri!r} is not digest-pinned"
