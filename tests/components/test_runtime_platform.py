"""agent.platformVersion and the agent environment's budget, from AWS's API model (botocore)."""

from __future__ import annotations

import botocore.loaders
import pytest
from deep_insight_contract.environment import AgentEnv

from components.errors import ConfigError
from components.runtime_platform import (
    EnvironmentBudgetError,
    PlatformVersion,
    checked_environment,
    environment_problems,
    modelled_budget,
)
from components.settings import parse_settings
from tests.conftest import key

BASE = {"aws:region": "us-east-1", key("agent.modelId"): "us.anthropic.claude-sonnet-4-5-20250929-v1:0"}


def aws_model_shapes() -> dict:
    """botocore's bedrock-agentcore-control model, read raw (not through the code under test)."""
    return botocore.loaders.create_loader().load_service_model("bedrock-agentcore-control", "service-2")["shapes"]


def test_the_budget_is_what_the_aws_api_model_says():
    shapes = aws_model_shapes()
    environment = shapes["EnvironmentVariablesMap"]
    name, value = shapes[environment["key"]["shape"]], shapes[environment["value"]["shape"]]
    budget = modelled_budget()
    assert budget.max_variables == environment["max"]
    assert (budget.name_length.start, budget.name_length.stop - 1) == (name["min"], name["max"])
    assert (budget.value_length.start, budget.value_length.stop - 1) == (value.get("min", 0), value["max"])
    # and the API takes the platform version this setting passes
    assert "platformVersion" in shapes["CreateAgentRuntimeRequest"]["members"]


def test_platform_version_defaults_to_v1_and_takes_v2():
    assert parse_settings(BASE, stack="dev").agent.platform_version is PlatformVersion.V1
    v2 = parse_settings({**BASE, key("agent.platformVersion"): "V2"}, stack="dev")
    assert v2.agent.platform_version is PlatformVersion.V2


@pytest.mark.parametrize(("raw", "hint"), [("v2", "did you mean V2?"), ("V3", "use V1 | V2"), ("", "use V1 | V2")])
def test_a_bad_platform_version_is_one_line_naming_key_value_and_fix(raw, hint):
    with pytest.raises(ConfigError) as caught:
        parse_settings({**BASE, key("agent.platformVersion"): raw}, stack="dev")
    (line,) = str(caught.value).splitlines()
    assert line.startswith(f"{key('agent.platformVersion')}: {raw!r} is not allowed")
    assert hint in line


@pytest.mark.parametrize("version", list(PlatformVersion))
def test_the_program_environment_fits_with_room(version):
    budget = modelled_budget()
    environment = dict.fromkeys(map(str, AgentEnv), "x" * 100)
    assert environment_problems(environment, version) == []
    assert len(AgentEnv) < budget.max_variables


@pytest.mark.parametrize("version", list(PlatformVersion))
def test_too_many_variables_too_long_names_and_values_are_named(version):
    budget = modelled_budget()
    many = {f"VAR_{n}": "1" for n in range(budget.max_variables + 1)}
    assert [name for name, _ in environment_problems(many, version)] == [None]
    assert environment_problems(dict(list(many.items())[: budget.max_variables]), version) == []

    long_name = "N" * budget.name_length.stop
    long_value = "v" * budget.value_length.stop
    problems = environment_problems({long_name: "1", "LONG": long_value, "UNKNOWN": None}, version)
    assert [name for name, _ in problems] == ["LONG", long_name]
    assert f"would be {budget.value_length.stop} characters" in problems[0][1]
    assert f"allows {budget.value_length.stop - 1}" in problems[0][1]
    # the limit itself is fine
    assert environment_problems({"LONG": "v" * (budget.value_length.stop - 1)}, version) == []


def test_an_environment_over_budget_stops_the_program_before_any_resource(evaluate_stack):
    budget = modelled_budget()
    model = "us." + "a" * budget.value_length.stop  # a model id no settings rule caps
    evaluation = evaluate_stack("dev", {key("agent.modelId"): model})
    assert evaluation.resources == []
    assert evaluation.error is not None
    lines = evaluation.error.splitlines()
    assert lines[0] == "invalid stack configuration:"
    assert lines[1].startswith(f"{key('agent.modelId')}: DEEP_INSIGHT_MODEL_ID would be {len(model)} characters")
    assert "Traceback" not in evaluation.error


def test_the_component_refuses_a_known_value_over_budget_in_one_line_per_problem():
    budget = modelled_budget()
    with pytest.raises(EnvironmentBudgetError) as caught:
        checked_environment({"A": "x" * budget.value_length.stop, "B": "ok"}, PlatformVersion.V2)
    lines = str(caught.value).splitlines()
    assert lines[0] == "the agent runtime's environment does not fit platform V2:"
    assert len(lines) == 2
    assert lines[1].startswith(f"agent environment: A would be {budget.value_length.stop} characters")
