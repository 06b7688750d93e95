"""What AWS accepts, in one place: the tables and patterns the settings are checked against.

Each fact here is AWS's, not the project's: the Fargate task sizes, CloudWatch Logs retention values,
the characters every tagged service accepts, the AZ and image URI shapes, Bedrock's inference-profile
geographies, and the AgentCore Runtime VPC-mode AZ table. The project's own choices (defaults, limits it
sets itself) live with the schema in `components.settings_schema`. The region list comes from the
installed botocore's partition data, so a region AWS adds arrives with a botocore upgrade.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from types import MappingProxyType


def _steps(start: int, stop: int, step: int) -> tuple[int, ...]:
    return tuple(range(start, stop + 1, step))


# Fargate task cpu (units) -> valid memory (MiB), from the ECS task-size table.
FARGATE_MEMORY_BY_CPU: Mapping[int, tuple[int, ...]] = MappingProxyType(
    {
        256: (512, 1024, 2048),
        512: _steps(1024, 4096, 1024),
        1024: _steps(2048, 8192, 1024),
        2048: _steps(4096, 16384, 1024),
        4096: _steps(8192, 30720, 1024),
        8192: _steps(16384, 61440, 4096),
        16384: _steps(32768, 122880, 8192),
    }
)
FARGATE_MEMORIES: frozenset[int] = frozenset(m for ms in FARGATE_MEMORY_BY_CPU.values() for m in ms)

# CloudWatch Logs PutRetentionPolicy retentionInDays.
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

# AgentCore Runtime session lifecycle (idleRuntimeSessionTimeout, maxLifetime), seconds.
AGENTCORE_LIFECYCLE_RANGE = range(60, 28801)

# AWS allows 50 tags per resource.
MAX_TAGS_PER_RESOURCE = 50
# Tag keys and values reach EC2, ECS, ELB, S3, IAM, ECR, CloudWatch Logs, CodeBuild and AgentCore, so they may use
# only what all of them accept. botocore's TagKey/TagValue shapes: AgentCore [a-zA-Z0-9\s._:/=+@-]*,
# ECS/ELB/IAM/Logs [\p{L}\p{Z}\p{N}_.:/=+\-@]*, the others no pattern. Where they meet (AgentCore's ASCII
# letters and digits; of Java's \s only the space is also \p{Z}) is this set;
# tests/components/test_tag_characters.py proves it equals that intersection of the installed botocore.
TAG_CHARACTERS = "A-Za-z0-9 _.:/=+@-"
TAG_CHARACTERS_SHOWN = "letters A-Z a-z, digits 0-9, space and _ . : / = + @ -"
TAG_KEY_LENGTH = range(1, 128)  # CodeBuild's KeyInput allows 127 characters, the others 128
TAG_VALUE_LENGTH = range(256)  # CodeBuild's ValueInput allows 255, the others 256
RESERVED_TAG_PREFIX = "aws:"

# The shape of every region name in botocore's partitions (us-gov-west-1, us-isob-east-1, eusc-de-east-1).
REGION_PATTERN = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-[0-9]+$")
AZ_ID_PATTERN = re.compile(r"^[a-z]{2,}[0-9]+-az[0-9]+$")
AZ_NAME_PATTERN = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]+[a-z]$")

DIGEST_PATTERN = re.compile(r"@sha256:[0-9a-f]{64}$")
DIGEST_URI_PATTERN = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$")
# A private ECR repository image, pinned by digest (the pull grants are scoped to the repository).
ECR_URI_PATTERN = re.compile(
    r"^(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/"
    r"(?P<repository>[a-z0-9._/-]+)@sha256:[0-9a-f]{64}$"
)
ECR_PRIVATE_REGISTRY_PATTERN = re.compile(r"^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/")
# Both services accept ECR Public images: AgentCore's containerUri pattern (botocore's
# bedrock-agentcore-control model) names public.ecr.aws, and ECS passes any registry to the container
# runtime. Pulls from it are anonymous (no IAM grant), but ECR Public has no VPC endpoint ("VPC endpoints
# don't support Amazon ECR Public repositories", ECR User Guide): a Fargate task in private subnets
# reaches it only through NAT. AgentCore pulls the image itself, not through the runtime's VPC ENIs.
ECR_PUBLIC_REGISTRY = "public.ecr.aws"
# The S3 bucket ECR keeps private images' layers in, per region: a pull fetches each layer from it through the
# S3 gateway endpoint, so that endpoint's policy must let GETs on it through (ECR user guide, "Minimum Amazon S3
# bucket permissions for Amazon ECR": arn:aws:s3:::prod-region-starport-layer-bucket/*,
# docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html#ecr-minimum-s3-perms).
ECR_LAYER_BUCKET = "prod-{region}-starport-layer-bucket"


def is_ecr_public(uri: str) -> bool:
    return uri.startswith(f"{ECR_PUBLIC_REGISTRY}/")


MODEL_ID_PATTERN = re.compile(
    r"^(arn:aws[a-z-]*:bedrock:[a-z0-9-]+:[0-9]{0,12}:"
    r"(foundation-model|inference-profile|application-inference-profile|provisioned-model)/[A-Za-z0-9.:_-]+"
    r"|[a-z0-9-]+\.[A-Za-z0-9.:_-]+)$"
)
# Cross-region inference profiles carry a geography prefix that must match the stack's region.
PROFILE_GEOGRAPHIES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "us": ("us-",),
        "us-gov": ("us-gov-",),
        "eu": ("eu-",),
        "apac": ("ap-",),
        "jp": ("ap-northeast-1", "ap-northeast-3"),
        "au": ("ap-southeast-2", "ap-southeast-4"),
        "ca": ("ca-",),
        "global": ("",),
    }
)

# AgentCore Runtime VPC mode, supported AZ IDs per region: AWS "Supported Availability Zones" table,
# snapshot 2026-08-11 (SPEC §9). Regions AWS adds later: `network.supportedAzIds`.
AGENTCORE_TABLE_DATE = "2026-08-11"
AGENTCORE_SUPPORTED_AZ_IDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "us-east-1": ("use1-az1", "use1-az2", "use1-az4"),
        "us-east-2": ("use2-az1", "use2-az2", "use2-az3"),
        "us-west-2": ("usw2-az1", "usw2-az2", "usw2-az3"),
        "ca-central-1": ("cac1-az1", "cac1-az2", "cac1-az4"),
        "sa-east-1": ("sae1-az1", "sae1-az2", "sae1-az3"),
        "eu-west-1": ("euw1-az1", "euw1-az2", "euw1-az3"),
        "eu-west-2": ("euw2-az1", "euw2-az2", "euw2-az3"),
        "eu-west-3": ("euw3-az1", "euw3-az2", "euw3-az3"),
        "eu-central-1": ("euc1-az1", "euc1-az2", "euc1-az3"),
        "eu-north-1": ("eun1-az1", "eun1-az2", "eun1-az3"),
        "eu-south-1": ("eus1-az1", "eus1-az2", "eus1-az3"),
        "eu-south-2": ("eus2-az1", "eus2-az2", "eus2-az3"),
        "ap-south-1": ("aps1-az1", "aps1-az2", "aps1-az3"),
        "ap-northeast-1": ("apne1-az1", "apne1-az2", "apne1-az4"),
        "ap-northeast-2": ("apne2-az1", "apne2-az2", "apne2-az3"),
        "ap-southeast-1": ("apse1-az1", "apse1-az2", "apse1-az3"),
        "ap-southeast-2": ("apse2-az1", "apse2-az2", "apse2-az3"),
        "ap-southeast-5": ("apse5-az1", "apse5-az2", "apse5-az3"),
        "ap-southeast-7": ("apse7-az1", "apse7-az2", "apse7-az3"),
        "us-gov-west-1": ("usgw1-az1", "usgw1-az2", "usgw1-az3"),
    }
)


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region of every partition in the installed botocore's endpoint data."""
    import botocore.loaders  # noqa: PLC0415 - only when a region is checked (the CLI's --help stays light)

    endpoints = botocore.loaders.create_loader().load_data("endpoints")
    return frozenset(region for partition in endpoints["partitions"] for region in partition["regions"])


def unknown_region_message(region: str) -> str:
    """What is wrong with a region name no AWS partition has (botocore's partition data)."""
    return f"{region!r} is not an AWS region (botocore knows no such region); use e.g. us-east-1"
