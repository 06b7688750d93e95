"""The model local runs default to is the one the shipped stacks configure."""

from __future__ import annotations

import pytest
import yaml
from deep_insight_contract.agents import DEFAULT_MODEL_ID

from ops.project import PROJECT_DIR


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_stacks_configure_the_default_model(stack):
    config = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
    assert config["deep-insight:agent.modelId"] == DEFAULT_MODEL_ID
