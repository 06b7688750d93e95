"""The policy pack as the Pulumi CLI runs it: ``policy/__main__.py`` serving the rules over gRPC.

pulumi-policy's ``PolicyPack(...)`` does not return: it starts the analyzer's gRPC server, prints its
port and serves until the engine stops it. So the pack is started here the way the CLI's Python language
host starts it (``python -u -m pulumi.policy <engine> <pack dir>``, in the pack's directory), and the test
talks to it as the engine does: GetAnalyzerInfo, Analyze (one resource), AnalyzeStack (all of them).
"""

from __future__ import annotations

import dataclasses
import json
import os
import runpy
import select
import subprocess
import sys
import types
from collections.abc import Iterator

import grpc
import pulumi_policy.policy
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from ops.evaluate import PROJECT_DIR, Declared
from tests.policy.test_rules import DOCUMENTED

POLICY_DIR = PROJECT_DIR / "policy"
STARTUP_SECONDS = 60


def _struct(values: object) -> struct_pb2.Struct:
    return json_format.ParseDict(json.loads(json.dumps(values)), struct_pb2.Struct())


@pytest.fixture(scope="module")
def pack() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    # Without PULUMI_STACK (see conftest): the engine would set it, these requests name no stack.
    env = {k: v for k, v in os.environ.items() if k != "PULUMI_STACK"}
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(POLICY_DIR)],
        cwd=POLICY_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], STARTUP_SECONDS)
        port = process.stdout.readline().strip() if ready else ""
        if not port.isdigit():
            process.kill()
            pytest.fail(f"the pack did not start: {port!r}\n{process.communicate(timeout=10)[1]}")
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        if process.poll() is None:
            process.terminate()
            process.communicate(timeout=10)


def _analyze(pack: analyzer_pb2_grpc.AnalyzerStub, resource: Declared, **inputs: object) -> list:
    request = analyzer_pb2.AnalyzeRequest(
        type=resource.type,
        properties=_struct({**resource.inputs, **inputs}),
        urn=resource.urn,
        name=resource.name,
        options=analyzer_pb2.AnalyzerResourceOptions(protect=resource.protect),
    )
    return list(pack.Analyze(request, timeout=30).diagnostics)


def test_the_pack_serves_exactly_the_documented_rules_all_mandatory(pack):
    info = pack.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    assert info.name == "deep-insight"
    assert [policy.name for policy in info.policies] == list(DOCUMENTED)
    assert {policy.enforcementLevel for policy in info.policies} == {analyzer_pb2.MANDATORY}
    assert all(policy.description for policy in info.policies)


def test_the_real_program_passes_the_pack(pack, dev):
    for resource in dev.resources:
        assert _analyze(pack, resource) == [], resource.name


def test_a_violation_stops_the_deployment(pack, dev):
    (diagnostic,) = _analyze(pack, dev.named("alb-lb"), internal=False)
    assert diagnostic.policyName == "alb-internal"
    assert diagnostic.policyPackName == "deep-insight"
    assert diagnostic.enforcementLevel == analyzer_pb2.MANDATORY
    assert "alb-lb: internal is False" in diagnostic.message


def test_a_value_unknown_at_preview_is_an_advisory_note_not_a_violation(pack, dev):
    # A first preview does not know the image digest (the image is built during the update).
    (diagnostic,) = _analyze(pack, dev.named("executor-task"), containerDefinitions=UNKNOWN_STRING_VALUE)
    assert diagnostic.policyName == "images-pinned-by-digest"
    assert diagnostic.enforcementLevel == analyzer_pb2.ADVISORY
    assert "during preview" in diagnostic.message


def test_an_aws_managed_policy_attachment_stops_the_deployment_unless_unknown_at_preview(pack, dev):
    """AdministratorAccess attached by a RolePolicyAttachment is refused; an ARN not known at preview (a policy
    created in the same update) is an advisory note, and the rule runs again at update."""
    policy = dev.named("agent-policy", "aws:iam/rolePolicy:RolePolicy")
    attachment = dataclasses.replace(
        policy, type="aws:iam/rolePolicyAttachment:RolePolicyAttachment", inputs={"role": policy.inputs["role"]}
    )

    (diagnostic,) = _analyze(pack, attachment, policyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    assert diagnostic.policyName == "iam-no-aws-managed-policies"
    assert diagnostic.enforcementLevel == analyzer_pb2.MANDATORY
    assert "agent-policy: policyArn 'arn:aws:iam::aws:policy/AdministratorAccess' is an AWS-managed" in (
        diagnostic.message
    )

    assert _analyze(pack, attachment, policyArn="arn:aws:iam::123456789012:policy/deep-insight/agent") == []

    (diagnostic,) = _analyze(pack, attachment, policyArn=UNKNOWN_STRING_VALUE)
    assert diagnostic.policyName == "iam-no-aws-managed-policies"
    assert diagnostic.enforcementLevel == analyzer_pb2.ADVISORY
    assert "during preview" in diagnostic.message


def _stack_resource(resource: Declared, **outputs: object) -> analyzer_pb2.AnalyzerResource:
    return analyzer_pb2.AnalyzerResource(
        type=resource.type,
        properties=_struct({**resource.state, **outputs}),
        urn=resource.urn,
        name=resource.name,
        options=analyzer_pb2.AnalyzerResourceOptions(protect=resource.protect),
        parent=resource.parent,
    )


def test_buckets_are_matched_to_their_guards_by_property_dependency_at_preview(pack, dev):
    """At a first preview the bucket's name is unknown, so a guard names its bucket by property dependency."""
    bucket = dev.named("artifacts-bucket", "aws:s3/bucket:Bucket")
    guards = [dev.named("artifacts-public-access"), dev.named("artifacts-encryption")]
    resources = [_stack_resource(bucket, bucket=UNKNOWN_STRING_VALUE, id=UNKNOWN_STRING_VALUE)]
    for guard in guards:
        resource = _stack_resource(guard, bucket=UNKNOWN_STRING_VALUE)
        resource.propertyDependencies["bucket"].urns.append(bucket.urn)
        resources.append(resource)

    response = pack.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources), timeout=30)
    assert list(response.diagnostics) == []

    response = pack.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources[:2]), timeout=30)
    (diagnostic,) = response.diagnostics
    assert diagnostic.policyName == "s3-bucket-guarded"
    assert diagnostic.urn == bucket.urn
    assert "no BucketServerSideEncryptionConfiguration" in diagnostic.message


def test_the_pack_also_runs_as_the_policy_package(monkeypatch):
    """``python -m policy`` (and the tests) import the rules relatively; the pack is built the same way."""
    served = []
    add_servicer = analyzer_pb2_grpc.add_AnalyzerServicer_to_server

    def record(servicer, server):
        served.append(servicer)
        add_servicer(servicer, server)

    def stop_serving(_seconds: float) -> None:
        raise KeyboardInterrupt  # PolicyPack's serve loop stops its server on this and returns

    # The module pulumi-policy registers its servicer with (the same object it imports).
    monkeypatch.setattr(analyzer_pb2_grpc, "add_AnalyzerServicer_to_server", record)
    monkeypatch.setattr(pulumi_policy.policy, "time", types.SimpleNamespace(sleep=stop_serving))
    runpy.run_module("policy.__main__", run_name="__main__")

    (servicer,) = served
    info = servicer.GetAnalyzerInfo(empty_pb2.Empty(), None)
    assert [policy.name for policy in info.policies] == list(DOCUMENTED)
