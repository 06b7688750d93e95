"""How the program lists its config: only public Pulumi API, and a loud failure if Pulumi changes it.

The Python language host hands a program all config as the JSON object in ``PULUMI_CONFIG`` (each value
a string; lists and maps as JSON text). `pulumi.runtime.get_config_env` is the public reader of that
variable and `pulumi.Config.get` reads one value; `components.settings.pulumi_config` uses only these.
"""

from __future__ import annotations

import json

import pulumi
import pytest

from components.settings import pulumi_config


@pytest.fixture
def clean_config(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("PULUMI_CONFIG", raising=False)
    pulumi.runtime.set_all_config({})
    yield monkeypatch
    pulumi.runtime.set_all_config({})


def test_the_public_api_this_relies_on_still_exists():
    assert "get_config_env" in pulumi.runtime.__all__, "pulumi.runtime.get_config_env is no longer public"
    assert "set_all_config" in pulumi.runtime.__all__


def test_get_config_env_reads_pulumi_config(clean_config: pytest.MonkeyPatch):
    clean_config.setenv("PULUMI_CONFIG", json.dumps({"deep-insight:tags": '{"a": "b"}'}))
    assert pulumi.runtime.get_config_env() == {"deep-insight:tags": '{"a": "b"}'}


def test_keys_set_by_the_engine_are_listed_typos_included(clean_config: pytest.MonkeyPatch):
    engine = {
        "aws:region": "eu-west-1",
        "deep-insight:network.azcount": "3",
        "deep-insight:agent.modelId": "eu.anthropic.x-v1:0",
        "other-project:key": "ignored",
    }
    clean_config.setenv("PULUMI_CONFIG", json.dumps(engine))
    assert pulumi_config() == {
        "aws:region": "eu-west-1",
        "deep-insight:network.azcount": "3",
        "deep-insight:agent.modelId": "eu.anthropic.x-v1:0",
    }


def test_values_set_in_process_win(clean_config: pytest.MonkeyPatch):
    clean_config.setenv("PULUMI_CONFIG", json.dumps({"aws:region": "eu-west-1"}))
    pulumi.runtime.set_all_config({"aws:region": "us-east-1", "deep-insight:retainData": "true"})
    assert pulumi_config() == {"aws:region": "us-east-1", "deep-insight:retainData": "true"}


def test_nothing_set_gives_nothing(clean_config: pytest.MonkeyPatch):
    assert pulumi_config() == {}


def test_look_alike_namespaces_are_listed_so_they_can_be_reported(clean_config: pytest.MonkeyPatch):
    clean_config.setenv("PULUMI_CONFIG", json.dumps({"deepinsight:executor.cpu": "2048"}))
    assert pulumi_config() == {"deepinsight:executor.cpu": "2048"}


def test_secret_keys_come_from_pulumi_config_secret_keys(clean_config: pytest.MonkeyPatch):
    assert "get_config_secret_keys_env" in pulumi.runtime.__all__
    clean_config.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(["deep-insight:executor.cpu"]))
    assert pulumi.runtime.get_config_secret_keys_env() == ["deep-insight:executor.cpu"]
