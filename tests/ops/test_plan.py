"""`deep-insight plan`: the real program evaluated offline, its tree and cost, errors as one-liners."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ops.cli import app
from ops.evaluate import PROJECT_DIR
from policy.rules import POLICIES
from tests.components.test_network import SUBNET_PLAN  # the documented CIDRs, written out by hand

runner = CliRunner()


def plan(*args: str):
    return runner.invoke(app, ["plan", *args], env={"COLUMNS": "160", "NO_COLOR": "1"})


def project_with(tmp_path: Path, stack: str, text: str) -> Path:
    """The real program beside one extra stack file."""
    for name in ("__main__.py", "Pulumi.yaml"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    for inputs in ("runtimes", "contract", "pyproject.toml", "uv.lock"):  # the images' build inputs
        (tmp_path / inputs).symlink_to(PROJECT_DIR / inputs)
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_json_plan_of_dev_lists_components_resources_and_cost():
    result = plan("--stack", "dev", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["valid"] is True
    assert document["region"] == "us-east-1"
    names = {c["name"]: c for c in document["components"]}
    assert set(names) == {
        "network",
        "security",
        "endpoints",
        "artifacts",
        "build-sources",
        "executor-image",
        "agent-image",
        "executor",
        "alb",
        "sessions",
        "agent",
        "analyst",
    }
    assert names["analyst"]["resources"] == {"aws:iam:Policy": 1}
    assert names["sessions"]["resources"] == {"pulumi-python:dynamic:SessionSweeper": 1}
    assert names["network"]["resources"]["aws:ec2:Subnet"] == 4  # private and agent in 2 AZs; no NAT, no public
    assert "aws:ec2:NatGateway" not in names["network"]["resources"]
    assert names["endpoints"]["resources"] == {"aws:ec2:VpcEndpoint": 7}  # S3 and the 6 APIs the parts use
    assert sum(c["total"] for c in document["components"]) == document["resourceCount"]
    cost = document["cost"]
    assert cost["idleMonthlyUsd"] == pytest.approx(sum(line["usd"] for line in cost["idleMonthly"]), abs=0.01)
    assert cost["monthlyUsd"] == pytest.approx(cost["idleMonthlyUsd"] + 100 * cost["perJobUsd"], abs=0.02)
    assert cost["pricing"]["asOf"] == "2026-11-24"
    assumptions = {a["name"]: a for a in cost["assumptions"]}
    assert assumptions["job_minutes"] == {
        "name": "job_minutes",
        "value": 15,
        "why": "one analysis job: the executor task and the agent session live this long",
    }
    assert assumptions["agent_cpu_active_share"]["value"] == 0.25
    # Money as `plan` prints it: months to the cent, a job's fractions of a cent to 1/100 cent.
    for line in cost["idleMonthly"]:
        assert round(line["usd"], 2) == line["usd"], line
    for line in cost["perJob"]:
        assert round(line["usd"], 4) == line["usd"], line
    assert round(cost["idleMonthlyUsd"], 2) == cost["idleMonthlyUsd"]
    # A deploy that rebuilds both images: two arm1.small builds of image_build_minutes each (images.build
    # codebuild, the default), priced from pricing.json's own entries.
    pricing = json.loads((Path(__file__).resolve().parents[2] / "ops" / "pricing.json").read_text(encoding="utf-8"))
    minutes = pricing["assumptions"]["image_build_minutes"]["value"]
    per_minute = pricing["prices"]["codebuild_arm_small_minute"]["usd"]
    assert [line["item"] for line in cost["perDeploy"]] == [
        "CodeBuild agent image (arm1.small)",
        "CodeBuild executor image (arm1.small)",
    ]
    assert cost["perDeployUsd"] == pytest.approx(2 * minutes * per_minute, abs=0.0001)
    assert document["policy"]["rules"] == [p.name for p in POLICIES]
    assert document["policy"]["violations"] == []


def test_prod_costs_more_idle_than_dev_but_the_same_per_job():
    dev = json.loads(plan("--stack", "dev", "--json").stdout)["cost"]
    prod = json.loads(plan("--stack", "prod", "--json").stdout)["cost"]
    assert prod["idleMonthlyUsd"] > dev["idleMonthlyUsd"]
    assert prod["perJobUsd"] == dev["perJobUsd"]


def test_table_output_shows_the_tree_the_cost_and_the_assumptions():
    result = plan("--stack", "prod", "--jobs", "250")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "configuration of stack prod is valid" in out
    assert "network deep-insight:network:Network" in out
    assert "aws:ec2:NatGateway ×3" in out
    assert "Idle, per month" in out
    assert "Per job (a 15-minute job)" in out
    assert "250 jobs/month" in out
    assert "agent_cpu_active_share" in out
    assert "\x1b[" not in out  # plain text when not a terminal


def test_invalid_configuration_prints_the_programs_one_line_errors_and_exits_2(tmp_path):
    project = project_with(
        tmp_path,
        "bad",
        "config:\n  aws:region: us-east-1\n  deep-insight:agent.modelId: m\n  deep-insight:executor.cpu: '1000'\n"
        "  deep-insight:logRetentionDays: '8'\n",
    )
    result = plan("--stack", "bad", "--cwd", str(project))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("error: invalid stack configuration in Pulumi.bad.yaml")
    assert any(line.strip().startswith("deep-insight:executor.cpu:") for line in lines[1:])
    assert any(line.strip().startswith("deep-insight:logRetentionDays:") for line in lines[1:])
    assert result.stdout == ""


def test_invalid_configuration_as_json(tmp_path):
    project = project_with(tmp_path, "bad", "config:\n  aws:region: us-east-1\n")
    result = plan("--stack", "bad", "--json", "--cwd", str(project))
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["valid"] is False
    (model,) = [e for e in document["errors"] if e["key"] == "deep-insight:agent.modelId"]
    assert model["message"].startswith("required")


def test_a_missing_stack_file_is_one_line():
    result = plan("--stack", "nope")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: Pulumi.nope.yaml not found in {PROJECT_DIR} (stacks there: dev, prod); "
        "pass -C <project dir> or another --stack"
    )


def test_a_declared_resource_that_breaks_a_policy_rule_fails_the_plan(tmp_path):
    project = project_with(tmp_path, "dev", (PROJECT_DIR / "Pulumi.dev.yaml").read_text(encoding="utf-8"))
    with (project / "__main__.py").open("a", encoding="utf-8") as program:
        program.write(
            "\naws.ec2.SecurityGroup('ssh-from-anywhere', vpc_id=network.vpc_id, tags=tags.named('ssh'),\n"
            "    ingress=[{'protocol': 'tcp', 'from_port': 22, 'to_port': 22, 'cidr_blocks': ['0.0.0.0/0']}])\n"
        )
    result = plan("--stack", "dev", "--cwd", str(project))
    assert result.exit_code == 1
    violations = [line for line in result.stdout.splitlines() if line.startswith("✗ policy")]
    assert len(violations) == 1
    assert violations[0].startswith(
        "✗ policy no-internet-ingress: urn:pulumi:dev::deep-insight::pulumi:pulumi:Stack$aws:ec2/securityGroup:SecurityGroup::ssh-from-anywhere"
    )
    assert "0.0.0.0/0" in violations[0]


def test_a_missing_stack_file_as_json():
    result = plan("--stack", "nope", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout) == {
        "stack": "nope",
        "valid": False,
        "errors": [
            {
                "key": None,
                "message": f"Pulumi.nope.yaml not found in {PROJECT_DIR} (stacks there: dev, prod); "
                "pass -C <project dir> or another --stack",
            }
        ],
    }


def test_a_directory_without_the_program_is_one_line(tmp_path):
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: us-east-1\n", encoding="utf-8")
    result = plan("--stack", "dev", "--cwd", str(tmp_path))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.stderr.strip() == (
        f"error: __main__.py not found in {tmp_path} (stacks there: dev); pass -C <project dir> or another --stack"
    )


def test_an_empty_directory_says_where_it_looked(tmp_path):
    result = plan("--stack", "dev", "--cwd", str(tmp_path))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.stderr.strip().startswith(
        f"error: __main__.py not found in {tmp_path} (no Pulumi.<stack>.yaml there)"
    )


def test_project_level_config_is_applied_and_a_look_alike_namespace_is_an_error(tmp_path):
    dev = (PROJECT_DIR / "Pulumi.dev.yaml").read_text(encoding="utf-8")
    project = project_with(tmp_path, "dev", dev + "  deepinsight:executor.cpu: '2048'\n")
    with (project / "Pulumi.yaml").open("a", encoding="utf-8") as file:
        file.write("config:\n  executor.maxSessions:\n    default: 500\n")
    result = plan("--stack", "dev", "--json", "--cwd", str(project))
    assert result.exit_code == 2
    errors = {e["key"]: e["message"] for e in json.loads(result.stdout)["errors"]}
    assert errors["deep-insight:executor.maxSessions"].startswith("500 is out of range"), errors
    assert errors["deepinsight:executor.cpu"] == (
        "deepinsight: is not this project's namespace; did you mean deep-insight:executor.cpu?"
    )


# --- issue 13: what a Pulumi user looks for, two stacks side by side, regions without prices ---


def test_json_plan_names_resources_zones_and_what_destroy_keeps():
    document = json.loads(plan("--stack", "prod", "--json").stdout)
    assert document["zones"] == [{"azId": zone, "subnets": tiers} for zone, tiers in SUBNET_PLAN.items()]
    (endpoints,) = [c for c in document["components"] if c["name"] == "endpoints"]
    assert endpoints["names"] == {
        "aws:ec2:VpcEndpoint": ["endpoints-ecr-api", "endpoints-ecr-dkr", "endpoints-logs", "endpoints-s3"]
    }
    # Pulumi.prod.yaml's retainData keeps (and protects) the repositories and buckets; AgentCore's ENIs can pin
    # the VPC, the agent subnets and the agent group for hours, so every stack leaves those (SPEC §9).
    kept = ["agent-image-repository", "alb-logs-bucket", "artifacts-bucket", "executor-image-repository"]
    assert document["protected"] == kept
    pinned = [
        "network-agent-use1-az1",
        "network-agent-use1-az2",
        "network-agent-use1-az4",
        "network-vpc",
        "security-agent",
    ]
    assert document["retainedOnDelete"] == sorted(kept + pinned)


def test_text_plan_shows_names_zones_and_destroy():
    out = plan("--stack", "dev").stdout
    assert "aws:ec2:VpcEndpoint ×7: endpoints-bedrock-runtime, endpoints-ecr-api" in out
    assert "use1-az1: private 10.100.0.0/18, agent 10.100.192.0/21" in out
    assert "protected (destroy stops until unprotected): none" in out
    assert (
        "left in AWS (retainOnDelete): network-agent-use1-az1, network-agent-use1-az2, network-vpc, security-agent"
        in out
    )


def test_dev_idles_within_budget_and_names_its_biggest_items():
    cost = json.loads(plan("--stack", "dev", "--json").stdout)["cost"]
    assert cost["idleMonthlyUsd"] <= 62  # issue 13's budget for a team trying Deep Insight
    assert [item["item"] for item in cost["biggestIdle"]] == ["Interface endpoints", "Internal ALB", "ECR images"]
    assert cost["biggestIdle"][0]["setting"].startswith("network.endpointZones")


def test_two_stacks_side_by_side():
    result = plan("--stack", "dev", "--stack", "prod")
    assert result.exit_code == 0, result.output
    table = [line for line in result.stdout.splitlines() if "idle, per month" in line]
    assert len(table) == 1
    assert "$61.18" in table[0]  # README's cost table
    assert "$192.57" in table[0]
    assert "prod: biggest idle items" in result.stdout
    assert "NAT gateways $98.55: network.natGateways" in result.stdout
    document = json.loads(plan("--stack", "dev", "--stack", "prod", "--json").stdout)
    assert [d["stack"] for d in document["stacks"]] == ["dev", "prod"]


def test_three_stacks_are_one_line_error():
    result = plan("--stack", "dev", "--stack", "prod", "--stack", "dev2")
    assert result.exit_code == 2
    assert (
        result.stderr.strip()
        == "error: plan compares two stacks at most, got 3 (--stack dev --stack prod --stack dev2)"
    )


def test_a_region_without_prices_is_not_priced_and_says_so(tmp_path):
    config = (
        "config:\n  aws:region: eu-west-1\n  deep-insight:agent.modelId: eu.anthropic.claude-sonnet-4-5-20250929-v1:0\n"
    )
    project = project_with(tmp_path, "eu", config)
    result = plan("--stack", "eu", "--cwd", str(project))
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("cost not estimated")]
    assert line.startswith("cost not estimated: ops/pricing.json holds us-east-1 list prices only")
    assert "eu-west-1" in line
    assert "Idle, per month" not in result.stdout
    document = json.loads(plan("--stack", "eu", "--json", "--cwd", str(project)).stdout)
    assert document["cost"] is None
    assert document["costNotEstimated"].startswith("cost not estimated:")
