"""Config files read as the Pulumi CLI reads them: project defaults under stack values, clear one-liners."""

from __future__ import annotations

import pytest

from ops.config_file import ConfigFileError, project_defaults, stack_values
from ops.evaluate import load_stack_config


def write(path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def test_project_config_gives_defaults_that_stack_values_override(tmp_path):
    write(
        tmp_path / "Pulumi.yaml",
        "name: deep-insight\nconfig:\n  aws:region: eu-west-1\n  executor.cpu:\n    type: integer\n    default: 2048\n"
        "  retainData:\n    description: keep data\n  deep-insight:tags:\n    value:\n      team: data\n",
    )
    write(tmp_path / "Pulumi.x.yaml", "config:\n  aws:region: us-east-1\n")
    assert project_defaults(tmp_path, "deep-insight") == {
        "aws:region": "eu-west-1",
        "deep-insight:executor.cpu": "2048",
        "deep-insight:tags": '{"team": "data"}',
    }
    assert load_stack_config("x", tmp_path) == {
        "aws:region": "us-east-1",
        "deep-insight:executor.cpu": "2048",
        "deep-insight:tags": '{"team": "data"}',
    }


def test_a_stack_file_without_config_says_so(tmp_path):
    write(tmp_path / "Pulumi.x.yaml", "aws:region: us-east-1\ndeep-insight:agent.modelId: m\n")
    with pytest.raises(ConfigFileError) as caught:
        stack_values("x", tmp_path, "deep-insight")
    assert str(caught.value) == (
        "Pulumi.x.yaml has no top-level 'config:' map (aws:region, deep-insight:agent.modelId are at the top "
        "level); put the settings under config:, as `pulumi config set` writes them"
    )


def test_a_stack_file_without_config_is_fine_when_the_project_gives_defaults(tmp_path):
    write(tmp_path / "Pulumi.yaml", "name: deep-insight\nconfig:\n  aws:region: us-east-1\n")
    write(tmp_path / "Pulumi.x.yaml", "encryptionsalt: abc\n")
    assert load_stack_config("x", tmp_path) == {"aws:region": "us-east-1"}


def test_a_missing_stack_file_lists_the_stacks_there(tmp_path):
    write(tmp_path / "Pulumi.dev.yaml", "config: {}\n")
    write(tmp_path / "Pulumi.prod.yaml", "config: {}\n")
    with pytest.raises(ConfigFileError) as caught:
        load_stack_config("stage", tmp_path)
    assert str(caught.value) == (
        f"Pulumi.stage.yaml not found in {tmp_path} (stacks there: dev, prod); pass -C <project dir> or another --stack"
    )
