"""parse_settings: defaults, every rule of SPEC §4, and all problems reported at once."""

from __future__ import annotations

import ipaddress
import json

import pytest

from components.errors import ConfigError
from components.settings import (
    FARGATE_MEMORY_BY_CPU,
    Architecture,
    EndpointZones,
    ImageBuild,
    NatStrategy,
    parse_settings,
)

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
DIGEST = "sha256:" + "a" * 64
EXECUTOR_URI = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/deep-insight-executor@{DIGEST}"
AGENT_URI = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/deep-insight-agent@{DIGEST}"


def k(name: str) -> str:
    return f"deep-insight:{name}"


def minimal(**overrides: str | None) -> dict[str, str]:
    raw = {"aws:region": "us-east-1", k("agent.modelId"): MODEL}
    for name, value in overrides.items():
        full = name if ":" in name else k(name)
        if value is None:
            raw.pop(full, None)
        else:
            raw[full] = value
    return raw


def problems_of(raw: dict[str, str]) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, stack="test")
    found: dict[str, str] = {}
    for problem in caught.value.problems:  # a key with several problems: all its messages, in order
        found[problem.key] = f"{found[problem.key]} | {problem.message}" if problem.key in found else problem.message
    return found


def test_defaults_follow_the_spec_table():
    s = parse_settings(minimal(), stack="dev")
    assert s.region == "us-east-1"
    assert s.network.cidr == ipaddress.IPv4Network("10.100.0.0/16")
    assert s.network.availability_zone_ids is None
    assert s.network.az_count == 2
    assert s.network.supported_az_ids is None
    assert s.network.nat_gateways is NatStrategy.SINGLE
    assert s.network.extra_interface_endpoints == ()
    assert s.network.endpoint_zones is EndpointZones.ALL
    assert s.interface_endpoints == ("ecr.api", "ecr.dkr", "logs")  # single NAT: what the offline executor needs
    assert (s.executor.cpu, s.executor.memory) == (1024, 2048)
    assert s.executor.architecture is Architecture.ARM64
    assert s.executor.max_sessions == 20
    assert s.executor.session_timeout_seconds == 3600
    assert s.executor.internet_access is False
    assert s.agent.model_id == MODEL
    assert (s.agent.idle_session_timeout_seconds, s.agent.max_lifetime_seconds) == (900, 28800)
    assert s.images.build is ImageBuild.CODEBUILD
    assert s.log_retention_days == 7
    assert s.retain_data is False
    assert dict(s.tags) == {}


def test_settings_are_immutable():
    s = parse_settings(minimal(), stack="dev")
    with pytest.raises(AttributeError):
        s.region = "eu-west-1"  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.tags["x"] = "y"  # type: ignore[index]


def test_every_key_is_read():
    raw = minimal(
        **{
            "network.cidr": "10.20.0.0/20",
            "network.availabilityZoneIds": json.dumps(["use1-az4", "use1-az1"]),
            "network.supportedAzIds": json.dumps(["use1-az1", "use1-az4"]),
            "network.natGateways": "perAz",
            "network.interfaceEndpoints": json.dumps(["xray"]),
            "network.endpointZones": "one",
            "executor.cpu": "2048",
            "executor.memory": "16384",
            "executor.architecture": "x86_64",
            "executor.maxSessions": "90",
            "executor.sessionTimeoutSeconds": "28800",
            "executor.internetAccess": "true",
            "agent.idleSessionTimeoutSeconds": "60",
            "agent.maxLifetimeSeconds": "60",
            "images.build": "prebuilt",
            "images.executorImage": EXECUTOR_URI,
            "images.agentImage": AGENT_URI,
            "logRetentionDays": "3653",
            "retainData": "true",
            "tags": json.dumps({"team": "data", "cost-center": "42"}),
        }
    )
    s = parse_settings(raw, stack="prod")
    assert s.network.cidr.prefixlen == 20
    assert s.network.availability_zone_ids == ("use1-az4", "use1-az1")
    assert s.network.supported_az_ids == ("use1-az1", "use1-az4")
    assert s.network.nat_gateways is NatStrategy.PER_AZ
    assert s.network.extra_interface_endpoints == ("xray",)
    assert s.network.endpoint_zones is EndpointZones.ONE
    assert s.interface_endpoints == ("xray",)  # NAT, and the executor has internet access: only the extra
    assert (s.executor.cpu, s.executor.memory, s.executor.architecture) == (2048, 16384, Architecture.X86_64)
    assert (s.executor.max_sessions, s.executor.session_timeout_seconds) == (90, 28800)
    assert s.executor.internet_access is True
    assert (s.agent.idle_session_timeout_seconds, s.agent.max_lifetime_seconds) == (60, 60)
    assert s.images.build is ImageBuild.PREBUILT
    assert (s.images.executor_image, s.images.agent_image) == (EXECUTOR_URI, AGENT_URI)
    assert (s.log_retention_days, s.retain_data) == (3653, True)
    assert s.resource_tags.named("vpc") == {
        "team": "data",
        "cost-center": "42",
        "deep-insight:stack": "prod",
        "Name": "deep-insight-prod-vpc",
    }


@pytest.mark.parametrize(
    ("overrides", "bad_key", "fragment"),
    [
        ({"aws:region": None}, "aws:region", "required"),
        ({"aws:region": "US East"}, "aws:region", "not an AWS region"),
        ({"agent.modelId": None}, k("agent.modelId"), "required"),
        ({"agent.modelId": "claude please"}, k("agent.modelId"), "not a Bedrock model"),
        ({"agent.modelId": "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"}, k("agent.modelId"), "cannot invoke"),
        (
            {"agent.modelId": "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.x-v1:0"},
            k("agent.modelId"),
            "the ARN is in eu-west-1",
        ),
        ({"network.cidr": "10.100.0.0"}, k("network.cidr"), "prefix /32"),
        ({"network.cidr": "10.0.0.0/8"}, k("network.cidr"), "prefix /8"),
        ({"network.cidr": "10.0.0.0/24"}, k("network.cidr"), "prefix /24"),
        ({"network.cidr": "10.100.0.1/16"}, k("network.cidr"), "host bits set; use 10.100.0.0/16"),
        ({"network.cidr": "300.1.0.0/16"}, k("network.cidr"), "not an IPv4 CIDR"),
        ({"network.cidr": "8.8.0.0/16"}, k("network.cidr"), "not a private"),
        (
            {"network.cidr": "10.0.0.0/22", "network.azCount": "4"},
            k("network.cidr"),
            "too small for 4 AZs",
        ),
        ({"network.availabilityZoneIds": '["use1-az1"]'}, k("network.availabilityZoneIds"), "at least 2"),
        (
            {"network.availabilityZoneIds": '["use1-az1", "use1-az1"]'},
            k("network.availabilityZoneIds"),
            "use1-az1 listed more than once",
        ),
        (
            {"network.availabilityZoneIds": '["us-east-1a", "us-east-1b"]'},
            k("network.availabilityZoneIds"),
            "us-east-1a is an AZ name",
        ),
        ({"network.availabilityZoneIds": "use1-az1,use1-az2"}, k("network.availabilityZoneIds"), "not a list"),
        (
            {"network.availabilityZoneIds": '["use1-az1", "use1-az2"]', "network.azCount": "2"},
            k("network.azCount"),
            "remove one",
        ),
        ({"network.azCount": "1"}, k("network.azCount"), "out of range; use 2 up to"),
        ({"executor.cpu": "one"}, k("executor.cpu"), "use one of 256, 512"),
        ({"network.azCount": "two"}, k("network.azCount"), "not a whole number"),
        ({"network.supportedAzIds": "[]"}, k("network.supportedAzIds"), "empty"),
        ({"network.natGateways": "perAZ"}, k("network.natGateways"), "did you mean perAz"),
        ({"network.natGateways": "many"}, k("network.natGateways"), "none | single | perAz"),
        ({"network.interfaceEndpoints": '["s3"]'}, k("network.interfaceEndpoints"), "gateway endpoint"),
        ({"network.interfaceEndpoints": '["ecr.api", "ecr.dkr", "log"]'}, k("network.interfaceEndpoints"), "logs?"),
        (
            {"network.interfaceEndpoints": '["ecr.api", "ecr.api"]'},
            k("network.interfaceEndpoints"),
            "more than once",
        ),
        ({"network.endpointZones": "two"}, k("network.endpointZones"), "use all | one (all: an endpoint ENI"),
        ({"network.endpointZones": "One"}, k("network.endpointZones"), "did you mean one?"),
        ({"executor.cpu": "300"}, k("executor.cpu"), "not a Fargate CPU value"),
        ({"executor.memory": "1024"}, k("executor.memory"), "valid memories for 1024: 2048, 3072"),
        ({"executor.cpu": "8192", "executor.memory": "18000"}, k("executor.memory"), "16384, 20480"),
        ({"executor.architecture": "arm"}, k("executor.architecture"), "arm64 | x86_64"),
        ({"executor.maxSessions": "91"}, k("executor.maxSessions"), "1..90"),
        ({"executor.maxSessions": "0"}, k("executor.maxSessions"), "1..90"),
        ({"executor.sessionTimeoutSeconds": "299"}, k("executor.sessionTimeoutSeconds"), "300..28800"),
        ({"executor.internetAccess": "yes"}, k("executor.internetAccess"), "true or false"),
        (
            {
                "executor.internetAccess": "true",
                "network.natGateways": "none",
            },
            k("executor.internetAccess"),
            "needs a NAT gateway",
        ),
        ({"agent.idleSessionTimeoutSeconds": "59"}, k("agent.idleSessionTimeoutSeconds"), "60..28800"),
        ({"agent.maxLifetimeSeconds": "28801"}, k("agent.maxLifetimeSeconds"), "60..28800"),
        (
            {"agent.idleSessionTimeoutSeconds": "1200", "agent.maxLifetimeSeconds": "600"},
            k("agent.maxLifetimeSeconds"),
            "at least 1200",
        ),
        ({"images.build": "remote"}, k("images.build"), "codebuild | local | prebuilt"),
        ({"images.build": "prebuilt", "images.agentImage": AGENT_URI}, k("images.executorImage"), "required"),
        (
            {"images.build": "prebuilt", "images.executorImage": "repo/exec:latest", "images.agentImage": AGENT_URI},
            k("images.executorImage"),
            "not digest-pinned",
        ),
        ({"images.agentImage": AGENT_URI}, k("images.agentImage"), "only used when images.build is prebuilt"),
        ({"logRetentionDays": "10"}, k("logRetentionDays"), "nearest: 7"),
        ({"retainData": "1"}, k("retainData"), "true or false"),
        ({"tags": '["a"]'}, k("tags"), "not a map"),
        ({"tags": '{"aws:owner": "me"}'}, k("tags"), "reserved"),
        ({"tags": '{"deep-insight:stack": "other"}'}, k("tags"), "set by the program"),
        ({"tags": json.dumps({f"t{i}": "v" for i in range(49)})}, k("tags"), "at most 48"),
        ({"network.azcount": "3"}, k("network.azcount"), "did you mean deep-insight:network.azCount?"),
        ({"network": '{"cidr": "10.0.0.0/16"}'}, k("network"), "structured config is not read"),
    ],
)
def test_each_invalid_value_names_its_key(overrides, bad_key, fragment):
    problems = problems_of(minimal(**overrides))
    assert bad_key in problems, problems
    assert fragment in problems[bad_key]
    assert "\n" not in problems[bad_key]


def test_every_problem_is_reported_at_once():
    raw = minimal(
        **{
            "aws:region": None,
            "network.cidr": "10.0.0.0/8",
            "executor.maxSessions": "500",
            "logRetentionDays": "10",
            "agent.modelId": None,
        }
    )
    problems = problems_of(raw)
    assert set(problems) == {
        "aws:region",
        k("network.cidr"),
        k("executor.maxSessions"),
        k("logRetentionDays"),
        k("agent.modelId"),
    }


def test_error_text_is_one_line_per_problem():
    with pytest.raises(ConfigError) as caught:
        parse_settings(minimal(**{"network.cidr": "x", "executor.cpu": "3"}), stack="t")
    lines = str(caught.value).splitlines()
    assert lines == [str(p) for p in caught.value.problems]
    assert all(line.startswith("deep-insight:") for line in lines)


@pytest.mark.parametrize("cpu", sorted(FARGATE_MEMORY_BY_CPU))
def test_every_documented_fargate_pair_is_accepted(cpu):
    for memory in FARGATE_MEMORY_BY_CPU[cpu]:
        s = parse_settings(minimal(**{"executor.cpu": str(cpu), "executor.memory": str(memory)}), stack="t")
        assert (s.executor.cpu, s.executor.memory) == (cpu, memory)


def test_fargate_table_matches_aws_ranges():
    assert FARGATE_MEMORY_BY_CPU[256] == (512, 1024, 2048)
    assert FARGATE_MEMORY_BY_CPU[4096][0] == 8192
    assert FARGATE_MEMORY_BY_CPU[4096][-1] == 30720
    assert FARGATE_MEMORY_BY_CPU[8192][1] - FARGATE_MEMORY_BY_CPU[8192][0] == 4096
    assert FARGATE_MEMORY_BY_CPU[16384][-1] == 122880


def test_nat_none_with_every_required_endpoint_is_valid():
    s = parse_settings(minimal(**{"network.natGateways": "none"}), stack="t")
    assert s.network.nat_gateways is NatStrategy.NONE


def test_global_and_plain_model_ids_are_accepted_anywhere():
    for model in ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-3-5-haiku-20241022-v1:0"):
        assert parse_settings(minimal(**{"aws:region": "eu-west-1", "agent.modelId": model}), stack="t")


def messages(raw: dict[str, str]) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, stack="test")
    return [(p.key, p.message) for p in caught.value.problems]


def test_an_invalid_nat_strategy_yields_one_problem_only():
    found = messages(minimal(**{"network.natGateways": "many", "executor.internetAccess": "true"}))
    assert [key for key, _ in found] == [k("network.natGateways")]


def test_every_bad_tag_is_reported():
    found = messages(minimal(tags=json.dumps({"aws:owner": "me", "team": "a|b", "Name": "x", "costCenter": 42})))
    tag_messages = [m for key, m in found if key == k("tags")]
    assert len(tag_messages) == 4
    assert any("reserved" in m for m in tag_messages)
    assert any("'|'" in m for m in tag_messages)
    assert any("set by the program" in m for m in tag_messages)
    assert "tags.costCenter is a number (42); quote it" in " ".join(tag_messages)


def test_every_bad_az_entry_is_reported():
    found = messages(minimal(**{"network.availabilityZoneIds": '["use1-az1", "us-east-1b", "use1-az1", "zone9"]'}))
    az = [m for key, m in found if key == k("network.availabilityZoneIds")]
    assert any("us-east-1b is an AZ name" in m for m in az)
    assert any("'zone9' is not an AZ ID" in m for m in az)
    assert any("use1-az1 listed more than once" in m for m in az)


def test_az_list_entries_of_the_wrong_type_are_named():
    found = dict(messages(minimal(**{"network.availabilityZoneIds": '["use1-az1", 3]'})))
    assert found[k("network.availabilityZoneIds")].startswith("network.availabilityZoneIds[1] is a number (3)")


def test_cpu_and_memory_are_both_reported():
    found = [key for key, _ in messages(minimal(**{"executor.cpu": "300", "executor.memory": "100"}))]
    assert found == [k("executor.cpu"), k("executor.memory")]


def test_an_image_neither_in_ecr_nor_pinned_gets_both_problems():
    raw = minimal(**{"images.build": "prebuilt", "images.executorImage": "docker.io/library/python:3.12",
                     "images.agentImage": AGENT_URI})  # fmt: skip
    image = [m for key, m in messages(raw) if key == k("images.executorImage")]
    assert len(image) == 2
    assert "not digest-pinned" in image[0]
    assert "not in Amazon ECR" in image[1]


@pytest.mark.parametrize("name", ["images.agentImage", "images.executorImage"])
def test_both_services_take_ecr_public_images_pinned_by_digest(name):
    raw = minimal(**{"images.build": "prebuilt", "images.executorImage": EXECUTOR_URI, "images.agentImage": AGENT_URI,
                     name: f"public.ecr.aws/acme/image@{DIGEST}"})  # fmt: skip
    parse_settings(raw, stack="test")
    raw[k(name)] = "public.ecr.aws/acme/image:latest"
    (message,) = [m for key, m in messages(raw) if key == k(name)]
    assert "not digest-pinned" in message


@pytest.mark.parametrize("region", ["us-east-9", "eu-north-7"])
def test_a_region_that_does_not_exist_is_unknown(region):
    found = messages(minimal(**{"aws:region": region}))
    assert found[0] == (
        "aws:region",
        f"{region!r} is not an AWS region (botocore knows no such region); use e.g. us-east-1",
    )
    assert all(key == "aws:region" for key, _ in found)  # no geography advice about the model on top


def test_a_secure_value_where_a_plain_one_is_expected_says_so():
    found = dict(messages(minimal(**{"executor.cpu": json.dumps({"secure": "v1:abc"})})))
    assert found[k("executor.cpu")].startswith("is a secret (secure:) but this setting is plain text")
    assert k("executor.memory") not in found


@pytest.mark.parametrize("namespace", ["deepinsight", "deep_insight", "Deep-Insight"])
def test_a_look_alike_namespace_is_an_error_with_a_did_you_mean(namespace):
    found = dict(messages(minimal(**{f"{namespace}:executor.cpu": "2048"})))
    assert found[f"{namespace}:executor.cpu"] == (
        f"{namespace}: is not this project's namespace; did you mean deep-insight:executor.cpu?"
    )


def test_other_namespaces_are_not_ours_to_judge():
    assert parse_settings(minimal(**{"aws:profile": "x", "other:key": "y"}), stack="t")


def test_a_secret_the_engine_decrypted_is_reported_too():
    with pytest.raises(ConfigError) as caught:
        parse_settings(minimal(**{"executor.cpu": "2048"}), stack="t", secret_keys={k("executor.cpu")})
    assert [p.key for p in caught.value.problems] == [k("executor.cpu")]
    assert "is a secret (secure:)" in caught.value.problems[0].message


HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


def test_agent_models_choose_a_model_for_some_agents():
    settings = parse_settings(
        minimal(**{"agent.models": json.dumps({"planner": HAIKU, "validator": HAIKU})}), stack="t"
    )
    assert dict(settings.agent.models) == {"planner": HAIKU, "validator": HAIKU}
    assert settings.agent.model_ids == (MODEL, HAIKU)  # each model once, the default first
    assert parse_settings(minimal(), stack="t").agent.model_ids == (MODEL,)


def test_every_bad_agent_model_is_reported():
    chosen = {"planer": HAIKU, "coder": 3, "validator": "not a model", "reporter": "eu.anthropic.claude-x-v1:0"}
    found = [
        message
        for key, message in messages(minimal(**{"agent.models": json.dumps(chosen)}))
        if key == k("agent.models")
    ]
    assert any(
        m.startswith("'planer' is not an agent; the agents are planner, coder, validator, reporter") for m in found
    )
    assert any(m.startswith("coder: 3 is not a model id") for m in found)
    assert any(m.startswith("validator: 'not a model' is not a Bedrock model or inference-profile id") for m in found)
    region = messages(minimal(**{"agent.models": json.dumps({"reporter": "eu.anthropic.claude-x-v1:0"})}))
    assert region == [(k("agent.models"), "reporter: eu.anthropic.claude-x-v1:0 is a eu. cross-region inference "
                       "profile, which us-east-1 cannot invoke; use the profile for us-east-1's geography or a global. profile")]  # fmt: skip
