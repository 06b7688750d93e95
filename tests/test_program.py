"""The whole program (__main__.py) for the dev and prod stack files, and its configuration errors."""

from __future__ import annotations

import json

import pytest
from deep_insight_contract.outputs import OUTPUT_NAMES, shape_problems

from ops.evaluate import is_taggable
from tests.conftest import key
from tests.policy_lint import parliament_findings, wildcard_grants


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_evaluates_without_warnings(request, stack):
    evaluation = request.getfixturevalue(stack)
    assert evaluation.error is None
    assert evaluation.warnings == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_outputs_are_exactly_the_contract_and_not_empty(request, stack):
    evaluation = request.getfixturevalue(stack)
    assert list(evaluation.outputs) == list(OUTPUT_NAMES)  # SPEC §5's list: tests/contract/test_outputs.py
    assert shape_problems(evaluation.outputs) == []
    for name, value in evaluation.outputs.items():
        assert value, name
        if isinstance(value, dict):
            assert all(value.values()), name
        if isinstance(value, list):
            assert all(value), name


def test_dev_and_prod_differ_as_the_spec_says(dev, prod):
    assert len(dev.outputs["availabilityZoneIds"]) == 2
    assert prod.outputs["availabilityZoneIds"] == ["use1-az1", "use1-az2", "use1-az4"]
    assert len(dev.of_type("aws:ec2/natGateway:NatGateway")) == 0
    assert len(prod.of_type("aws:ec2/natGateway:NatGateway")) == 3
    assert dev.config[key("logRetentionDays")] == "7"
    assert prod.config[key("logRetentionDays")] == "30"
    assert (dev.config[key("retainData")], prod.config[key("retainData")]) == ("false", "true")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_taggable_resource_carries_the_stack_tag(request, stack):
    evaluation = request.getfixturevalue(stack)
    custom = [r for r in evaluation.resources if r.custom]
    taggable = [r for r in custom if is_taggable(r.type)]
    assert len(taggable) > len(custom) / 2
    for resource in taggable:
        tags = resource.inputs.get("tags", {})
        assert tags.get("deep-insight:stack") == stack, resource.name
        assert tags.get("environment") == stack, resource.name
        assert tags.get("Name", "").startswith(f"deep-insight-{stack}-"), resource.name


def test_untaggable_types_are_only_routes_and_associations(dev_nat):
    untaggable = {r.type for r in dev_nat.resources if r.custom and not is_taggable(r.type)}
    # Sub-resources of something tagged (a bucket's settings, a role's inline policy, ...) and the
    # program's own dynamic resources.
    assert untaggable == {
        "aws:ec2/route:Route",
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        # the program's own dynamic resources: no AWS resource of their own (components.log_retention,
        # .sweeper; .remote_build's image build pushes an image, which the repository holds)
        "pulumi-python:dynamic/logs:RuntimeLogRetention",
        "pulumi-python:dynamic/ecs:SessionSweeper",
        "pulumi-python:dynamic/images:RemoteImageBuild",
    }


def test_components_parent_their_children(dev):
    components = {r.urn: r for r in dev.resources if not r.custom}
    assert {c.type for c in components.values()} == {
        "deep-insight:network:Network",
        "deep-insight:security:SecurityGroups",
        "deep-insight:endpoints:Endpoints",
        "deep-insight:bucket:PrivateBucket",
        "deep-insight:image:ContainerImage",
        "deep-insight:image:CodeBuildImage",
        "deep-insight:cluster:ExecutorCluster",
        "deep-insight:alb:InternalAlb",
        "deep-insight:sessions:SessionCleanup",
        "deep-insight:agent:AgentRuntime",
        "deep-insight:analyst:AnalystPolicy",
    }
    for resource in dev.resources:
        if resource.custom:
            assert resource.parent in components, resource.name
            assert resource.name.startswith(components[resource.parent].name + "-")


# At least fifteen distinct invalid configurations, each stopping the real program before any resource
# is registered, with the offending key in the message.
INVALID = [
    ({"aws:region": None}, "aws:region"),
    ({"aws:region": "ap-northeast-3", key("agent.modelId"): "global.anthropic.claude-sonnet-4-5-20250929-v1:0"},
     "aws:region"),
    ({key("agent.modelId"): None}, key("agent.modelId")),
    ({key("network.cidr"): "10.0.0.0/8"}, key("network.cidr")),
    ({key("network.cidr"): "192.168.0.0/22", key("network.azCount"): "4"}, key("network.cidr")),
    ({key("network.availabilityZoneIds"): '["use1-az1", "use1-az6"]', key("network.azCount"): None},
     key("network.availabilityZoneIds")),
    ({key("network.availabilityZoneIds"): '["use1-az1", "usw2-az1"]', key("network.azCount"): None},
     key("network.availabilityZoneIds")),
    ({key("network.availabilityZoneIds"): '["use1-az2", "use1-az2"]', key("network.azCount"): None},
     key("network.availabilityZoneIds")),
    ({key("network.availabilityZoneIds"): '["use1-az2"]', key("network.azCount"): None},
     key("network.availabilityZoneIds")),
    ({key("network.azCount"): "4"}, key("network.azCount")),
    ({key("network.natGateways"): "two"}, key("network.natGateways")),
    ({key("network.endpointZones"): "two"}, key("network.endpointZones")),
    ({key("network.interfaceEndpoints"): '["s3", "ecr.api", "ecr.dkr", "logs"]'}, key("network.interfaceEndpoints")),
    ({key("executor.cpu"): "1024", key("executor.memory"): "512"}, key("executor.memory")),
    ({key("executor.architecture"): "aarch64"}, key("executor.architecture")),
    ({key("executor.maxSessions"): "100"}, key("executor.maxSessions")),
    ({key("executor.sessionTimeoutSeconds"): "30"}, key("executor.sessionTimeoutSeconds")),
    ({key("executor.internetAccess"): "true", key("network.natGateways"): "none"}, key("executor.internetAccess")),
    ({key("agent.idleSessionTimeoutSeconds"): "30"}, key("agent.idleSessionTimeoutSeconds")),
    ({key("agent.idleSessionTimeoutSeconds"): "3600", key("agent.maxLifetimeSeconds"): "1800"},
     key("agent.maxLifetimeSeconds")),
    ({key("images.build"): "prebuilt"}, key("images.executorImage")),
    ({key("images.build"): "prebuilt", key("images.executorImage"): "r/e:latest", key("images.agentImage"): "r/a:1"},
     key("images.agentImage")),
    ({key("logRetentionDays"): "31"}, key("logRetentionDays")),
    ({key("retainData"): "maybe"}, key("retainData")),
    ({key("tags"): '{"aws:createdBy": "me"}'}, key("tags")),
    ({key("network.natGateway"): "single"}, key("network.natGateway")),
]  # fmt: skip


@pytest.mark.parametrize(("overrides", "bad_key"), INVALID, ids=[bad for _, bad in INVALID])
def test_invalid_configuration_stops_before_any_resource(evaluate_stack, overrides, bad_key):
    evaluation = evaluate_stack("dev", overrides)
    assert evaluation.error is not None
    assert evaluation.resources == []
    lines = evaluation.error.splitlines()
    assert lines[0] == "invalid stack configuration:"
    assert any(line.startswith(f"{bad_key}: ") for line in lines[1:]), evaluation.error
    assert "Traceback" not in evaluation.error


def test_invalid_distinct_configurations_are_at_least_fifteen():
    assert len({json.dumps(o, sort_keys=True) for o, _ in INVALID}) >= 15
    assert len({bad for _, bad in INVALID}) >= 15


def test_settings_errors_come_before_the_az_lookup(evaluate_stack):
    evaluation = evaluate_stack("dev", {key("network.cidr"): "10.0.0.0/8"})
    assert evaluation.invokes == []


def test_several_bad_keys_are_reported_together(evaluate_stack):
    evaluation = evaluate_stack(
        "prod", {key("network.cidr"): "10.0.0.0/30", key("executor.cpu"): "3", key("logRetentionDays"): "8"}
    )
    assert evaluation.error is not None
    assert [line.split(": ", 1)[0] for line in evaluation.error.splitlines()[1:]] == [
        key("network.cidr"),
        key("logRetentionDays"),
        key("executor.cpu"),
    ]


def test_prod_differs_from_dev_exactly_as_its_settings_say(dev, prod):
    def names(evaluation):
        return {(r.type.rsplit(":", 1)[-1], r.name) for r in evaluation.resources}

    # without NAT the agent reaches the model, ECS and ELB through endpoints (natGateways: none)
    assert names(dev) - names(prod) == {
        ("VpcEndpoint", "endpoints-bedrock-runtime"),
        ("VpcEndpoint", "endpoints-ecs"),
        ("VpcEndpoint", "endpoints-elasticloadbalancing"),
    }
    az4 = "use1-az4"
    assert names(prod) - names(dev) == {
        # a third AZ (availabilityZoneIds)
        ("Subnet", f"network-private-{az4}"),
        ("Subnet", f"network-agent-{az4}"),
        ("RouteTable", f"network-private-{az4}"),
        ("RouteTableAssociation", f"network-private-{az4}"),
        ("RouteTableAssociation", f"network-agent-{az4}"),
        # a NAT gateway per AZ (natGateways: perAz), in public subnets behind an internet gateway; the agent
        # may leave through them
        ("InternetGateway", "network-igw"),
        ("RouteTable", "network-public"),
        ("Route", "network-public-default"),
        *[("Subnet", f"network-public-{zone}") for zone in ("use1-az1", "use1-az2", az4)],
        *[("RouteTableAssociation", f"network-public-{zone}") for zone in ("use1-az1", "use1-az2", az4)],
        *[("Route", f"network-private-{zone}-default") for zone in ("use1-az1", "use1-az2", az4)],
        *[("Eip", f"network-nat-{zone}") for zone in ("use1-az1", "use1-az2", az4)],
        *[("NatGateway", f"network-nat-{zone}") for zone in ("use1-az1", "use1-az2", az4)],
        ("SecurityGroupEgressRule", "security-agent-to-internet-443-out"),
        # versioned artifacts (retainData: true)
        ("BucketVersioning", "artifacts-versioning"),
        # ALB access logs (alb.accessLogs: true)
        ("PrivateBucket", "alb-logs"),
        ("Bucket", "alb-logs-bucket"),
        ("BucketOwnershipControls", "alb-logs-ownership"),
        ("BucketPublicAccessBlock", "alb-logs-public-access"),
        ("BucketServerSideEncryptionConfiguration", "alb-logs-encryption"),
        ("BucketLifecycleConfiguration", "alb-logs-lifecycle"),
        ("BucketPolicy", "alb-logs-policy"),
    }


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_declared_policy_is_lint_clean(request, stack):
    evaluation = request.getfixturevalue(stack)
    documents = [
        (r.name, json.loads(r.inputs["policy"]))
        for r in evaluation.of_type("aws:iam/rolePolicy:RolePolicy")
        + evaluation.of_type("aws:s3/bucketPolicy:BucketPolicy")
    ] + [(r.name, json.loads(r.inputs["assumeRolePolicy"])) for r in evaluation.of_type("aws:iam/role:Role")]
    # role policies (agent, executor execution: the executor task has no role; the two image builds),
    # bucket policies (artifacts, build sources, prod's ALB logs), trusts
    assert len(documents) == 4 + (3 if stack == "prod" else 2) + 4
    for name, document in documents:
        assert parliament_findings(document) == [], name
        assert wildcard_grants(document) == [], name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_what_retain_data_keeps(request, stack):
    evaluation = request.getfixturevalue(stack)
    kept = {(r.type.rsplit(":", 1)[-1], r.name) for r in evaluation.resources if r.protect}
    if stack == "dev":
        assert kept == set()
    else:
        assert kept == {
            ("Bucket", "artifacts-bucket"),
            ("Bucket", "alb-logs-bucket"),
            ("Repository", "executor-image-repository"),
            ("Repository", "agent-image-repository"),
        }
