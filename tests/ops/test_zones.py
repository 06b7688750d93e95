"""`deep-insight zones` against moto's EC2, which shuffles us-east-1 names the way a real account may."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from ops.cli import app

runner = CliRunner()


def zones(*args: str):
    return runner.invoke(app, ["zones", *args], env={"COLUMNS": "160", "NO_COLOR": "1"})


def test_us_east_1_names_map_to_ids_and_agentcore_support(aws):
    result = zones("--region", "us-east-1", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    by_name = {z["name"]: z for z in document["zones"]}
    # SPEC §11: moto maps 1a to the unsupported use1-az6, 1b/1c/1d to az1/az2/az4.
    assert by_name["us-east-1a"]["id"] == "use1-az6"
    assert by_name["us-east-1a"]["agentcore"] == "no"
    assert {by_name[n]["id"] for n in ("us-east-1b", "us-east-1c", "us-east-1d")} == {
        "use1-az1",
        "use1-az2",
        "use1-az4",
    }
    assert document["agentcoreZoneIds"] == ["use1-az1", "use1-az2", "use1-az4"]


def test_table_marks_each_zone(aws):
    result = zones("--region", "us-east-1")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if "us-east-1a" in line)
    assert "use1-az6" in row
    assert "✗ not supported" in row
    row = next(line for line in result.stdout.splitlines() if "us-east-1b" in line)
    assert "✓ supported" in row
    assert "Usable for a stack: use1-az1, use1-az2, use1-az4" in result.stdout


def test_region_outside_agentcores_table_points_at_the_override(aws):
    result = zones("--region", "ap-northeast-3")
    assert result.exit_code == 0, result.output
    assert "network.supportedAzIds" in result.stdout
    assert "? not listed" in result.stdout


def test_region_comes_from_the_environment_or_is_a_one_line_error(aws, monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    result = runner.invoke(app, ["zones"], env={"AWS_REGION": ""})
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: no region: pass --region (e.g. --region us-east-1) or set AWS_REGION"
    result = runner.invoke(app, ["zones", "--json"], env={"AWS_REGION": "us-east-1"})
    assert result.exit_code == 0
    assert json.loads(result.stdout)["region"] == "us-east-1"


def test_no_credentials_is_a_one_line_error(aws, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = zones("--region", "us-east-1")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.strip().startswith("error: no AWS credentials found")


def test_a_region_that_does_not_exist_is_unknown_not_unreachable(aws):
    result = zones("--region", "us-east-9")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: 'us-east-9' is not an AWS region (botocore knows no such region); use e.g. us-east-1"
    )
