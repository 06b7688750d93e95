"""The offline evaluator reads stack files the way the Pulumi CLI hands config to a program."""

from __future__ import annotations

import asyncio

import pytest

from ops.config_file import ConfigFileError
from ops.evaluate import evaluate, load_stack_config


def test_stack_file_values_become_strings_like_the_cli_passes_them():
    config = load_stack_config("prod")
    assert config["aws:region"] == "us-east-1"
    assert config["deep-insight:retainData"] == "true"
    assert config["deep-insight:logRetentionDays"] == "30"
    assert config["deep-insight:network.availabilityZoneIds"] == '["use1-az1", "use1-az2", "use1-az4"]'
    assert config["deep-insight:tags"] == '{"environment": "prod"}'


def test_keys_without_namespace_belong_to_the_project(tmp_path):
    (tmp_path / "Pulumi.x.yaml").write_text("config:\n  network.cidr: 10.1.0.0/16\n  aws:region: eu-west-1\n")
    assert load_stack_config("x", tmp_path) == {"deep-insight:network.cidr": "10.1.0.0/16", "aws:region": "eu-west-1"}


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "Pulumi.x.yaml not found"), ("config: [", "not valid YAML"), ("config: 3\n", "no 'config:' map")],
)
def test_unreadable_stack_files_are_clear_errors(tmp_path, content, message):
    if content is not None:
        (tmp_path / "Pulumi.x.yaml").write_text(content)
    with pytest.raises(ConfigFileError, match=message):
        load_stack_config("x", tmp_path)


def test_warnings_from_the_program_and_the_engine_are_recorded(tmp_path):
    (tmp_path / "Pulumi.w.yaml").write_text("config:\n  aws:region: us-east-1\n")
    (tmp_path / "__main__.py").write_text(
        "import warnings\nimport pulumi\n"
        "pulumi.log.warn('engine warning')\n"
        "warnings.warn('python warning', UserWarning, stacklevel=1)\n"
        "pulumi.export('answer', 42)\n"
    )
    evaluation = evaluate("w", project_dir=tmp_path)
    assert evaluation.error is None
    assert evaluation.outputs == {"answer": 42}
    assert "engine warning" in evaluation.warnings
    assert any(w.startswith("UserWarning: python warning") for w in evaluation.warnings)


def test_evaluation_works_after_asyncio_run_left_no_event_loop():

    async def nothing() -> None:
        return None

    asyncio.run(nothing())  # leaves the main thread without a current event loop
    assert evaluate("dev").error is None


def test_a_region_outside_the_table_assumes_the_configured_zone_ids():
    evaluation = evaluate(
        "dev",
        {
            "aws:region": "me-central-1",
            "deep-insight:agent.modelId": "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "deep-insight:network.supportedAzIds": '["mec1-az1", "mec1-az2", "mec1-az3"]',
        },
    )
    assert evaluation.error is None
    assert evaluation.outputs["availabilityZoneIds"] == ["mec1-az1", "mec1-az2"]
    assert (
        "me-central-1's AZs are not known offline: assumed mec1-az1, mec1-az2, mec1-az3 exist" in evaluation.warnings[0]
    )


def test_without_supported_ids_an_unknown_region_is_still_the_programs_error():
    evaluation = evaluate(
        "dev",
        {
            "aws:region": "me-central-1",
            "deep-insight:agent.modelId": "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        },
    )
    assert evaluation.error is not None
    assert "deep-insight:network.supportedAzIds" in evaluation.error
    assert evaluation.warnings == []
