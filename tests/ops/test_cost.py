"""The cost estimate: counted from what the program declares, priced from ops/pricing.json."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from ops.cost import PRICING_FILE, estimate, footprint, load_pricing

PRICES = json.loads(PRICING_FILE.read_text(encoding="utf-8"))


def price(name: str) -> float:
    return PRICES["prices"][name]["usd"]


def test_pricing_file_names_its_source_date_and_every_price_the_issue_lists():
    assert PRICES["region"] == "us-east-1"
    assert PRICES["source"]
    assert PRICES["as_of"] == "2026-11-24"
    for item in PRICES["prices"].values():
        assert item["usd"] > 0
        assert item["page"].startswith("https://aws.amazon.com/")
        assert item["unit"]
    required = {
        "nat_gateway_hour",
        "interface_endpoint_az_hour",
        "alb_hour",
        "alb_lcu_hour",
        "fargate_arm64_vcpu_hour",
        "fargate_arm64_gb_hour",
        "fargate_x86_64_vcpu_hour",
        "fargate_x86_64_gb_hour",
        "agentcore_vcpu_hour",
        "agentcore_gb_hour",
        "cloudwatch_logs_ingest_gb",
        "s3_standard_gb_month",
        "ecr_storage_gb_month",
    }
    assert required <= set(PRICES["prices"])
    assert PRICES["assumptions"]["job_minutes"]["value"] == 15
    assert all(a["why"] for a in PRICES["assumptions"].values())


def test_dev_footprint_is_counted_from_the_declared_resources(dev):
    stack = footprint(dev.resources)
    assert stack.nat_gateways == 0  # natGateways none
    assert stack.public_ips == 0
    assert stack.interface_endpoint_azs == 6 * 1  # 6 endpoints the parts need without NAT, in one AZ
    assert stack.load_balancers == 1
    assert (stack.executor_vcpu, stack.executor_memory_gb, stack.executor_architecture) == (1, 2, "arm64")
    assert sorted(stack.repositories) == ["agent", "executor"]


def test_prod_has_a_nat_gateway_and_endpoint_enis_per_az(prod):
    stack = footprint(prod.resources)
    # the 3 endpoints the executor needs without internet (ecr.api, ecr.dkr, logs) in each of the 3 AZs
    assert (stack.nat_gateways, stack.public_ips, stack.interface_endpoint_azs) == (3, 3, 3 * 3)


def test_idle_cost_is_hours_times_list_prices(dev_nat):
    cost = estimate(footprint(dev_nat.resources), load_pricing())
    lines = {line.item: line.usd for line in cost.idle_monthly}
    assert lines["NAT gateways"] == pytest.approx(730 * price("nat_gateway_hour"))
    assert lines["NAT public IPv4"] == pytest.approx(730 * price("public_ipv4_hour"))
    # with NAT: ecr.api, ecr.dkr, logs, in dev's first AZ alone (endpointZones one)
    assert lines["Interface endpoints"] == pytest.approx(3 * 730 * price("interface_endpoint_az_hour"))
    assert lines["Internal ALB"] == pytest.approx(730 * price("alb_hour"))
    assert cost.idle_monthly_usd == pytest.approx(sum(lines.values()))


def test_dev_idles_within_the_budget_of_issue_13(dev):
    # $62 a month: what a team trying Deep Insight should pay before a job runs (the predecessor: ~$91).
    assert estimate(footprint(dev.resources), load_pricing()).idle_monthly_usd <= 62


def test_per_job_cost_follows_the_executor_size_and_architecture(dev, evaluate_stack):
    pricing = load_pricing()
    arm = estimate(footprint(dev.resources), pricing)
    fargate_arm = next(line.usd for line in arm.per_job if line.item.startswith("Fargate"))
    assert fargate_arm == pytest.approx(
        0.25 * (1 * price("fargate_arm64_vcpu_hour") + 2 * price("fargate_arm64_gb_hour"))
    )

    x86 = evaluate_stack(
        "dev",
        {
            "deep-insight:executor.architecture": "x86_64",
            "deep-insight:executor.cpu": "2048",
            "deep-insight:executor.memory": "8192",
        },
    )
    big = estimate(footprint(x86.resources), pricing)
    fargate_x86 = next(line for line in big.per_job if line.item.startswith("Fargate"))
    assert fargate_x86.item == "Fargate executor (x86_64)"
    assert fargate_x86.usd == pytest.approx(
        0.25 * (2 * price("fargate_x86_64_vcpu_hour") + 8 * price("fargate_x86_64_gb_hour"))
    )


def test_no_nat_stack_pays_no_nat_and_prebuilt_images_store_nothing(dev):
    stack = replace(footprint(dev.resources), nat_gateways=0, public_ips=0, repositories=())
    cost = estimate(stack, load_pricing())
    lines = {line.item: line.usd for line in cost.idle_monthly}
    assert lines["NAT gateways"] == 0
    assert "ECR images" not in lines


def test_monthly_total_adds_jobs_to_the_idle_cost(dev):
    cost = estimate(footprint(dev.resources), load_pricing())
    assert cost.monthly_usd(0) == pytest.approx(cost.idle_monthly_usd)
    assert cost.monthly_usd(1000) == pytest.approx(cost.idle_monthly_usd + 1000 * cost.per_job_usd)
    assert 0 < cost.per_job_usd < 1


def test_an_x86_executor_is_built_and_priced_on_an_x86_build_instance(evaluate_stack):
    from ops.cost import estimate, footprint, load_pricing  # noqa: PLC0415

    evaluation = evaluate_stack("dev", {"deep-insight:executor.architecture": "x86_64"})
    stack = footprint(evaluation.resources)
    assert sorted(stack.image_builds) == [("agent", "ARM_CONTAINER"), ("executor", "LINUX_CONTAINER")]
    pricing = load_pricing()
    lines = {line.item: line.usd for line in estimate(stack, pricing).per_deploy}
    minutes = pricing.assumptions["image_build_minutes"]
    assert lines == {
        "CodeBuild executor image (general1.small)": minutes * pricing["codebuild_linux_small_minute"],
        "CodeBuild agent image (arm1.small)": minutes * pricing["codebuild_arm_small_minute"],
    }
    local = footprint(evaluate_stack("dev", {"deep-insight:images.build": "local"}).resources)
    assert estimate(local, pricing).per_deploy == []  # a local build costs no CodeBuild minutes
