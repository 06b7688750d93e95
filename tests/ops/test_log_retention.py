"""Retention on AgentCore's log groups (components.log_retention) against a moto server.

AgentCore owns ``/aws/bedrock-agentcore/runtimes/<id>-<endpoint>``: the program may create it if missing
and set its retention, but never deletes it and never fails because AgentCore made it first.
"""

from __future__ import annotations

import pulumi.dynamic
import pytest

from components.log_retention import RetentionProvider, ensure_retention, runtime_log_group_name
from tests.ops.deployed import shared_session

REGION = "us-east-1"
GROUP = runtime_log_group_name("deep_insight_dev-AbCdEf1234", "live")


def logs(region: str = REGION):
    return shared_session().client("logs", region_name=region)


def group(name: str = GROUP, region: str = REGION) -> dict | None:
    found = logs(region).describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return next((g for g in found if g["logGroupName"] == name), None)


def test_a_missing_group_is_created_with_the_retention(aws):
    assert ensure_retention(logs(), GROUP, 7) is True
    created = group()
    assert created is not None
    assert created["retentionInDays"] == 7


def test_agentcores_own_group_is_kept_and_only_gets_the_retention(aws):
    # AgentCore made the group at its first write (no retention) and has written to it.
    logs().create_log_group(logGroupName=GROUP)
    logs().create_log_stream(logGroupName=GROUP, logStreamName="runtime-logs")
    assert "retentionInDays" not in group()  # never expires

    assert ensure_retention(logs(), GROUP, 30) is False  # no ResourceAlreadyExistsException escapes

    assert group()["retentionInDays"] == 30
    streams = logs().describe_log_streams(logGroupName=GROUP)["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["runtime-logs"]


def test_repeating_it_is_harmless_and_follows_the_setting(aws):
    ensure_retention(logs(), GROUP, 7)
    assert ensure_retention(logs(), GROUP, 7) is False
    assert ensure_retention(logs(), GROUP, 14) is False
    assert group()["retentionInDays"] == 14
    assert len(logs().describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"]) == 1


def test_the_provider_uses_the_stacks_region_and_never_deletes(aws, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")  # the deployer's default is not the stack's region
    provider = RetentionProvider()
    provider.configure(pulumi.dynamic.ConfigureRequest(pulumi.dynamic.Config({"aws:region": REGION}, "deep-insight")))
    # Numbers reach a dynamic provider as floats (protobuf Struct).
    props = {"log_group_name": GROUP, "days": 7.0, "region": REGION, "account_id": "123456789012"}

    created = provider.create(props)
    assert created.id == GROUP
    assert group()["retentionInDays"] == 7
    assert group(region="eu-west-1") is None

    provider.update(GROUP, props, {**props, "days": 30.0})
    assert group()["retentionInDays"] == 30

    provider.delete(GROUP, {**props, "days": 30.0})
    assert group() is not None, "the group is AgentCore's: deleting the retention leaves it"


@pytest.mark.parametrize(
    ("change", "replaces"),
    [
        ({"days": 30.0}, []),
        ({"log_group_name": GROUP + "x"}, ["log_group_name"]),
        ({"region": "us-west-2"}, ["region"]),
    ],
)
def test_diff_updates_retention_in_place_and_replaces_for_another_group(change, replaces):
    olds = {"log_group_name": GROUP, "days": 7.0, "region": REGION, "account_id": "123456789012"}
    diff = RetentionProvider().diff(GROUP, olds, {**olds, **change})
    assert diff.changes is True
    assert diff.replaces == replaces
    assert RetentionProvider().diff(GROUP, olds, dict(olds)).changes is False
