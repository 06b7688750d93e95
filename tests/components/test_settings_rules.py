"""Each cross-key rule on its own, fed literal values (not the parsers' output)."""

from __future__ import annotations

import ipaddress
from typing import Any

from components.errors import Problem
from components.settings_rules import (
    RULES,
    Parsed,
    cidr_fits_zones,
    fargate_task_size,
    images_match_build,
    internet_needs_nat,
    lifetime_covers_idle,
    model_in_region,
    model_required,
    public_executor_image_needs_nat,
    zones_chosen_once,
)
from components.settings_schema import ImageBuild, NatStrategy


def parsed(*groups: dict[str, Any], region: str | None = "us-east-1", given: tuple[str, ...] = ()) -> Parsed:
    values = {name.replace("__", "."): value for group in groups for name, value in group.items()}
    return Parsed(values=values, given=frozenset(given), region=region)


def keys(problems: list[Problem]) -> list[str]:
    return [p.key for p in problems]


def test_rules_are_all_listed():
    assert len(RULES) == 9
    assert len(set(RULES)) == 9


def test_model_required():
    assert keys(model_required(parsed({"agent__modelId": None}))) == ["deep-insight:agent.modelId"]
    assert model_required(parsed({"agent__modelId": "us.x.y"})) == []
    assert model_required(parsed()) == []  # the key's own check failed: nothing derived


def test_model_in_region():
    eu_profile = parsed({"agent__modelId": "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"})
    assert "cannot invoke" in model_in_region(eu_profile)[0].message
    arn = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.x-v1:0"
    assert "the ARN is in eu-west-1" in model_in_region(parsed({"agent__modelId": arn}))[0].message
    assert model_in_region(parsed({"agent__modelId": arn}, region="eu-west-1")) == []
    assert model_in_region(parsed({"agent__modelId": "jp.anthropic.x-v1:0"}, region="ap-northeast-1")) == []
    assert model_in_region(parsed({"agent__modelId": "jp.anthropic.x-v1:0"}, region="ap-south-1")) != []
    assert model_in_region(parsed({"agent__modelId": "eu.x.y"}, region=None)) == []


def test_zones_chosen_once():
    both = ("network.availabilityZoneIds", "network.azCount")
    assert keys(zones_chosen_once(parsed(given=both))) == ["deep-insight:network.azCount"]
    assert zones_chosen_once(parsed(given=both[:1])) == []


def test_cidr_fits_zones():
    small = ipaddress.IPv4Network("10.0.0.0/22")
    values = {"network__cidr": small, "network__availabilityZoneIds": None}
    assert "too small for 4 AZs" in cidr_fits_zones(parsed(values, {"network__azCount": 4}))[0].message
    assert cidr_fits_zones(parsed(values, {"network__azCount": 2})) == []


def test_an_invalid_nat_strategy_derives_no_second_error():
    # network.natGateways failed its own check, so it is absent from the values.
    assert internet_needs_nat(parsed({"executor__internetAccess": True})) == []


def test_internet_needs_nat():
    bad = parsed({"executor__internetAccess": True, "network__natGateways": NatStrategy.NONE})
    assert keys(internet_needs_nat(bad)) == ["deep-insight:executor.internetAccess"]
    ok = parsed({"executor__internetAccess": True, "network__natGateways": NatStrategy.PER_AZ})
    assert internet_needs_nat(ok) == []


def test_fargate_task_size_reports_cpu_and_memory_together():
    both = fargate_task_size(parsed({"executor__cpu": 300, "executor__memory": 100}))
    assert keys(both) == ["deep-insight:executor.cpu", "deep-insight:executor.memory"]
    pair = fargate_task_size(parsed({"executor__cpu": 1024, "executor__memory": 1024}))
    assert "valid memories for 1024: 2048, 3072" in pair[0].message
    # ECS task-size table: 4 vCPU takes 8 GB..30 GB in 1 GB steps.
    assert fargate_task_size(parsed({"executor__cpu": 4096, "executor__memory": 30720})) == []
    # cpu wrong but memory is a size Fargate offers: only cpu is reported.
    assert keys(fargate_task_size(parsed({"executor__cpu": 300, "executor__memory": 2048}))) == [
        "deep-insight:executor.cpu"
    ]


def test_lifetime_covers_idle():
    assert (
        "at least 1200"
        in lifetime_covers_idle(parsed({"agent__idleSessionTimeoutSeconds": 1200, "agent__maxLifetimeSeconds": 600}))[
            0
        ].message
    )
    assert lifetime_covers_idle(parsed({"agent__idleSessionTimeoutSeconds": 60, "agent__maxLifetimeSeconds": 60})) == []


def test_images_match_build():
    prebuilt = {"images__build": ImageBuild.PREBUILT, "images__executorImage": None, "images__agentImage": "x"}
    assert keys(images_match_build(parsed(prebuilt))) == ["deep-insight:images.executorImage"]
    local = parsed({"images__build": ImageBuild.LOCAL, "images__agentImage": "x"}, given=("images.agentImage",))
    assert "only used when images.build is prebuilt" in images_match_build(local)[0].message


def test_an_ecr_public_executor_image_needs_nat():
    # ECR Public has no VPC endpoint (ECR User Guide), so private subnets reach it only through NAT.
    public = {"images__executorImage": "public.ecr.aws/acme/executor@sha256:" + "a" * 64}
    (problem,) = public_executor_image_needs_nat(parsed(public, {"network__natGateways": NatStrategy.NONE}))
    assert problem.key == "deep-insight:images.executorImage"
    assert "no VPC endpoint" in problem.message
    assert public_executor_image_needs_nat(parsed(public, {"network__natGateways": NatStrategy.SINGLE})) == []
    private = {"images__executorImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/e@sha256:" + "a" * 64}
    assert public_executor_image_needs_nat(parsed(private, {"network__natGateways": NatStrategy.NONE})) == []
    # natGateways failed its own check: no second, derived error.
    assert public_executor_image_needs_nat(parsed(public)) == []
