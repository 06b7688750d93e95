"""Container images: ECR repositories, the Docker builds, digest pinning, prebuilt images."""

from __future__ import annotations

import json

import pytest
from deep_insight_contract.tags import RETAIN_DATA_TAG

from components.build_context import context_digest
from components.image import ecr_lifecycle_policy, repository_arn_from_uri
from ops.evaluate import PROJECT_DIR, evaluate
from tests.botocore_shapes import member_limit
from tests.conftest import copy_program, key

CONTAINER_URI = ("agentRuntimeArtifact", "containerConfiguration", "containerUri")
REPOSITORY = "aws:ecr/repository:Repository"
IMAGE = "docker:index/image:Image"
RUNTIME = "aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
DIGEST = "sha256:" + "b" * 64
LOCAL = {key("images.build"): "local"}
PREBUILT = {
    key("images.build"): "prebuilt",
    key("images.executorImage"): f"210987654321.dkr.ecr.us-east-1.amazonaws.com/shared/executor@{DIGEST}",
    key("images.agentImage"): f"210987654321.dkr.ecr.us-east-1.amazonaws.com/shared/agent@{DIGEST}",
}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_repositories_scan_on_push_with_rebuildable_tags(request, stack):
    evaluation = request.getfixturevalue(stack)
    retain = stack == "prod"
    for runtime in ("executor", "agent"):
        repository = evaluation.named(f"{runtime}-image-repository", REPOSITORY)
        assert repository.inputs["name"] == f"deep-insight-{stack}-{runtime}"
        # MUTABLE: a rebuild of the same context (a new digest, builds are not reproducible) moves the tag
        assert repository.inputs["imageTagMutability"] == "MUTABLE"
        assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repository.inputs["forceDelete"] is (not retain)
        assert (repository.protect, repository.retain_on_delete) == (retain, retain)
        assert repository.inputs["tags"][RETAIN_DATA_TAG] == ("true" if retain else "false")
        lifecycle = evaluation.named(f"{runtime}-image-lifecycle", "aws:ecr/lifecyclePolicy:LifecyclePolicy")
        assert json.loads(lifecycle.inputs["policy"])["rules"][0]["selection"]["countNumber"] == 10


@pytest.fixture(scope="module")
def dev_local(evaluate_stack):
    """dev with images.build local: the deploying machine's Docker engine builds (pulumi-docker)."""
    evaluation = evaluate_stack("dev", LOCAL)
    assert evaluation.error is None, evaluation.error
    return evaluation


def test_images_are_built_for_the_right_platform_from_the_project_root(dev_local, evaluate_stack):
    dev = dev_local
    for runtime in ("executor", "agent"):
        image = dev.named(f"{runtime}-image-image", IMAGE)
        build = image.inputs["build"]
        assert build["platform"] == "linux/arm64"
        assert build["context"] == "."  # the project: the image needs contract/ as well as its runtime
        assert build["dockerfile"] == f"runtimes/{runtime}/Dockerfile"
        tag = context_digest(PROJECT_DIR, PROJECT_DIR / "runtimes" / runtime / "Dockerfile")[:16]
        assert image.inputs["imageName"].endswith(f"deep-insight-dev-{runtime}:{tag}")
        assert image.inputs["registry"]["username"] == "AWS"
        assert "registry" in image.secret_inputs  # the ECR password never lands in state in clear
    x86 = evaluate_stack("dev", {**LOCAL, key("executor.architecture"): "x86_64"})
    assert x86.named("executor-image-image", IMAGE).inputs["build"]["platform"] == "linux/amd64"
    assert x86.named("agent-image-image", IMAGE).inputs["build"]["platform"] == "linux/arm64"


def test_dependents_receive_the_digest_pinned_reference(dev_local):
    dev = dev_local
    for runtime, output in (("executor", "executorImageUri"), ("agent", "agentImageUri")):
        digest = dev.named(f"{runtime}-image-image", IMAGE).state["repoDigest"]
        assert "@sha256:" in digest
        assert dev.outputs[output] == digest
    runtime = dev.named("agent-runtime", RUNTIME)
    assert (
        runtime.inputs["agentRuntimeArtifact"]["containerConfiguration"]["containerUri"] == dev.outputs["agentImageUri"]
    )
    (container,) = json.loads(dev.named("executor-task", TASK).inputs["containerDefinitions"])
    assert container["image"] == dev.outputs["executorImageUri"]


def test_changing_agent_code_rolls_the_runtime_and_nothing_else(tmp_path):
    project = copy_program(tmp_path)
    before = evaluate("dev", LOCAL, project_dir=project)
    (project / "runtimes" / "agent" / "src" / "deep_insight_agent" / "__init__.py").write_text('"""changed"""\n')
    after = evaluate("dev", LOCAL, project_dir=project)
    assert before.error is None
    assert after.error is None

    changed = {(r.type, r.name) for r in after.resources if r.inputs != before.named(r.name, r.type).inputs}
    assert changed == {
        (IMAGE, "agent-image-image"),
        (RUNTIME, "agent-runtime"),
        ("aws:bedrock/agentcoreAgentRuntimeEndpoint:AgentcoreAgentRuntimeEndpoint", "agent-endpoint"),
    }
    assert after.outputs["agentImageUri"] != before.outputs["agentImageUri"]
    assert after.outputs["executorImageUri"] == before.outputs["executorImageUri"]


def test_an_unchanged_program_declares_the_same_thing_twice(dev, evaluate_stack):
    again = evaluate_stack("dev")
    assert [(r.type, r.name, r.inputs) for r in sorted(again.resources, key=lambda r: r.urn)] == [
        (r.type, r.name, r.inputs) for r in sorted(dev.resources, key=lambda r: r.urn)
    ]
    assert again.outputs == dev.outputs


def test_prebuilt_images_keep_the_repositories_and_build_nothing(evaluate_stack, dev):
    evaluation = evaluate_stack("dev", PREBUILT)
    assert evaluation.error is None
    assert evaluation.of_type(IMAGE) == []
    # The repositories stay exactly as declared with builds, so switching to prebuilt (CI's preview does)
    # never plans to delete them.
    assert sorted((r.urn, str(r.inputs), r.protect) for r in evaluation.of_type(REPOSITORY)) == sorted(
        (r.urn, str(r.inputs), r.protect) for r in dev.of_type(REPOSITORY)
    )
    assert evaluation.outputs["agentImageUri"] == PREBUILT[key("images.agentImage")]
    assert evaluation.outputs["executorImageUri"] == PREBUILT[key("images.executorImage")]
    policy = json.loads(evaluation.named("executor-execution-policy", "aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    pull = next(s for s in policy["Statement"] if s["Sid"] == "PullExecutorImage")
    assert pull["Resource"] == ["arn:aws:ecr:us-east-1:210987654321:repository/shared/executor"]


def test_context_digest_follows_what_the_ignore_file_lets_through(tmp_path):
    dockerfile = tmp_path / "app" / "Dockerfile"
    dockerfile.parent.mkdir()
    dockerfile.write_text("FROM scratch\n")
    (tmp_path / "app" / "main.py").write_text("print(1)\n")
    (tmp_path / "notes.txt").write_text("notes\n")
    first = context_digest(tmp_path, dockerfile)
    (tmp_path / "notes.txt").write_text("more notes\n")
    assert context_digest(tmp_path, dockerfile) != first  # no ignore file: the whole context is sent
    (tmp_path / ".dockerignore").write_text("notes.txt\n")
    second = context_digest(tmp_path, dockerfile)
    assert second != first  # .dockerignore itself decides what is sent
    (tmp_path / "notes.txt").write_text("ignored\n")
    assert context_digest(tmp_path, dockerfile) == second
    # <Dockerfile>.dockerignore wins over .dockerignore.
    (tmp_path / "app" / "Dockerfile.dockerignore").write_text("*\n!app/main.py\n")
    third = context_digest(tmp_path, dockerfile)
    (tmp_path / "unrelated.txt").write_text("not sent\n")
    assert context_digest(tmp_path, dockerfile) == third
    (tmp_path / "app" / "main.py").write_text("print(2)\n")
    assert context_digest(tmp_path, dockerfile) != third
    fourth = context_digest(tmp_path, dockerfile)
    dockerfile.write_text("FROM scratch\nUSER 1\n")  # the Dockerfile always counts, ignored or not
    assert context_digest(tmp_path, dockerfile) != fourth


def test_repository_arn_from_a_prebuilt_uri():
    uri = f"210987654321.dkr.ecr.eu-west-1.amazonaws.com/team/agent@{DIGEST}"
    assert repository_arn_from_uri(uri) == "arn:aws:ecr:eu-west-1:210987654321:repository/team/agent"
    with pytest.raises(ValueError, match="not a digest-pinned ECR image URI"):
        repository_arn_from_uri("docker.io/library/python:3.12")


def test_lifecycle_keeps_the_last_n_images():
    (rule,) = json.loads(ecr_lifecycle_policy(5))["rules"]
    assert rule["selection"] == {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 5}
    assert rule["action"] == {"type": "expire"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("build", ["codebuild", "local"])
def test_switching_to_prebuilt_removes_only_the_builds(evaluate_stack, stack, build):
    built = evaluate_stack(stack, {key("images.build"): build})
    prebuilt = evaluate_stack(stack, PREBUILT)
    removed = {urn.rsplit("::", 1)[1] for urn in {r.urn for r in built.resources} - {r.urn for r in prebuilt.resources}}
    if build == "local":
        assert removed == {"executor-image-image", "agent-image-image"}
    else:  # the CodeBuild side of each image, and the bucket of build contexts
        assert removed
        assert all(
            name.startswith(("executor-image-codebuild", "agent-image-codebuild", "build-sources")) for name in removed
        )
        assert {"executor-image-codebuild-project", "agent-image-codebuild-project", "build-sources-bucket"} <= removed
    assert {r.urn for r in prebuilt.resources} <= {r.urn for r in built.resources}
    assert {r.urn for r in built.resources if r.protect} == {r.urn for r in prebuilt.resources if r.protect}


PUBLIC = {
    key("images.build"): "prebuilt",
    key("images.executorImage"): f"public.ecr.aws/acme/executor@{DIGEST}",
    key("images.agentImage"): f"public.ecr.aws/acme/agent@{DIGEST}",
    key("network.natGateways"): "single",  # ECR Public has no VPC endpoint: only NAT reaches it
}


def test_both_services_accept_the_ecr_public_uris_the_program_sends(evaluate_stack):
    evaluation = evaluate_stack("dev", PUBLIC)
    assert evaluation.error is None, evaluation.error
    (runtime,) = evaluation.of_type(RUNTIME)
    uri = runtime.inputs["agentRuntimeArtifact"]["containerConfiguration"]["containerUri"]
    assert member_limit("bedrock-agentcore-control", "CreateAgentRuntime", *CONTAINER_URI).problem(uri) is None
    (task,) = evaluation.of_type(TASK)
    (container,) = [c for c in json.loads(task.inputs["containerDefinitions"]) if c["image"].startswith("public.")]
    assert container["image"] == PUBLIC[key("images.executorImage")]


def test_ecr_public_images_need_no_pull_grant(evaluate_stack):
    # Pulls from ECR Public are anonymous: neither role gets ECR actions for an image it cannot scope.
    evaluation = evaluate_stack("dev", PUBLIC)
    for name in ("executor-execution-policy", "agent-policy"):
        policy = json.loads(evaluation.named(name, "aws:iam/rolePolicy:RolePolicy").inputs["policy"])
        actions = [a for s in policy["Statement"] for a in s["Action"]]
        assert not [a for a in actions if a.startswith("ecr:")], (name, actions)


def test_an_ecr_public_uri_has_no_repository_to_grant_on():
    assert repository_arn_from_uri(f"public.ecr.aws/acme/agent@{DIGEST}") is None


@pytest.mark.parametrize("build", [LOCAL, {}], ids=["local", "codebuild"])
def test_a_stale_locked_requirements_file_stops_the_build_with_one_line(tmp_path, build):
    project = copy_program(tmp_path)
    lock = project / "runtimes" / "executor" / "requirements.lock"
    lock.write_text(lock.read_text(encoding="utf-8").replace("pandas==", "pandas===", 1), encoding="utf-8")
    evaluation = evaluate("dev", build, project_dir=project)
    assert evaluation.error == (
        "runtimes/executor/requirements.lock is not uv.lock's export: "
        "run `uv run python -m components.locked_requirements`"
    )
    assert not [r for r in evaluation.resources if r.custom and "image" in r.name]
