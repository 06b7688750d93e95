"""The pull-request workflow cannot run here: parse it, check it against GitHub's schema, and assert its shape."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from components.settings import KNOWN_KEYS, parse_settings
from ops.evaluate import PROJECT_DIR, load_stack_config
from tests.browser import BROWSER_VARIABLES

WORKFLOW = PROJECT_DIR / ".github" / "workflows" / "preview.yml"
STACKS = sorted(p.name.split(".")[1] for p in PROJECT_DIR.glob("Pulumi.*.yaml"))


@pytest.fixture(scope="module")
def workflow() -> dict:
    document = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as the boolean true.
    document["on"] = document.pop(True)
    return document


def steps_using(job: dict, action: str) -> list[dict]:
    return [s for s in job["steps"] if s.get("uses", "").split("@")[0] == action]


def commands(job: dict) -> str:
    return "\n".join(s.get("run", "") for s in job["steps"])


def test_matches_githubs_workflow_schema():
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_runs_on_pull_requests_with_least_privilege(workflow):
    assert set(workflow["on"]) == {"pull_request"}
    assert workflow["permissions"] == {"contents": "read"}
    # The tests run the pull request's code: they get no OIDC token and cannot write to the pull request.
    assert "permissions" not in workflow["jobs"]["test"]
    assert workflow["jobs"]["preview"]["permissions"] == {
        "contents": "read",
        "id-token": "write",
        "pull-requests": "write",
    }
    for job in workflow["jobs"].values():
        assert job["timeout-minutes"] <= 60


def test_previews_every_stack_file(workflow):
    preview = workflow["jobs"]["preview"]
    assert preview["strategy"]["matrix"] == {"stack": ["dev", "prod"]}
    assert preview["strategy"]["matrix"]["stack"] == STACKS
    assert preview["strategy"]["fail-fast"] is False


def test_preview_steps_in_order(workflow):
    preview = workflow["jobs"]["preview"]
    uses = [s.get("uses", "run").split("@")[0] for s in preview["steps"]]
    order = [
        "actions/checkout",
        "astral-sh/setup-uv",
        "aws-actions/configure-aws-credentials",
        "pulumi/actions",
    ]
    positions = [uses.index(action) for action in order]
    assert positions == sorted(positions)
    assert "uv sync --frozen" in commands(preview)
    run_preview = [s for s in steps_using(preview, "pulumi/actions") if s.get("with", {}).get("command")]
    assert len(run_preview) == 1
    options = run_preview[0]["with"]
    assert options["command"] == "preview"
    assert options["stack-name"] == "${{ matrix.stack }}"
    assert options["comment-on-pr"] is True
    assert options["policyPacks"] == "policy"
    assert (PROJECT_DIR / options["policyPacks"] / "PulumiPolicy.yaml").is_file()
    # The pack's own dependencies are installed from the file the pack ships.
    requirements = re.search(r"-r (\S+)", commands(preview))
    assert requirements is not None
    assert (PROJECT_DIR / requirements.group(1)).is_file()


def test_aws_credentials_come_from_oidc_in_each_stacks_region(workflow):
    preview = workflow["jobs"]["preview"]
    (credentials,) = steps_using(preview, "aws-actions/configure-aws-credentials")
    options = credentials["with"]
    assert options["role-to-assume"].startswith("${{ vars.")
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(options)
    regions = {load_stack_config(stack)["aws:region"] for stack in STACKS}
    assert regions == {options["aws-region"]}
    assert "AWS_ACCESS_KEY_ID" not in WORKFLOW.read_text(encoding="utf-8")


def test_preview_uses_prebuilt_images_so_no_docker_is_needed(workflow):
    preview = workflow["jobs"]["preview"]
    (run_preview,) = [s for s in steps_using(preview, "pulumi/actions") if s.get("with", {}).get("command")]
    config_map = yaml.safe_load(run_preview["with"]["config-map"])
    assert config_map["deep-insight:images.build"]["value"] == "prebuilt"
    assert set(config_map) <= set(KNOWN_KEYS)
    # With the digests the step reads from the stack, each stack's configuration is valid.
    digest = "123456789012.dkr.ecr.us-east-1.amazonaws.com/{}@sha256:" + "0" * 64
    for stack in STACKS:
        raw = load_stack_config(stack)
        raw.update({key: item["value"] for key, item in config_map.items()})
        raw["deep-insight:images.executorImage"] = digest.format("executor")
        raw["deep-insight:images.agentImage"] = digest.format("agent")
        assert parse_settings(raw, stack=stack).images.build.value == "prebuilt"
    assert "executorImageUri" in commands(preview)
    assert "agentImageUri" in commands(preview)


def test_test_job_runs_what_ci_runs(workflow):
    test = workflow["jobs"]["test"]
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    assert "uv run pytest" in readme
    script = commands(test)
    for command in (
        "uv sync --frozen",
        "uv run ruff check .",
        "uv run ruff format --check .",
        "uv run pyright",
        "uv run pytest",
    ):
        assert command in script
    ci = (PROJECT_DIR / ".ci" / "run").read_text(encoding="utf-8")
    pinned = re.search(r'"uv==([0-9.]+)"', ci)
    assert pinned is not None
    for setup in steps_using(test, "astral-sh/setup-uv") + steps_using(
        workflow["jobs"]["preview"], "astral-sh/setup-uv"
    ):
        assert setup["with"]["version"] == pinned.group(1)


def test_test_job_installs_what_the_tests_need(workflow):
    """The Debian packages .ci/run installs, on the runner too; the browser is the runner's own Chrome."""
    ci = (PROJECT_DIR / ".ci" / "run").read_text(encoding="utf-8")
    installed = re.search(r"--no-install-recommends \\\n\s+(.+?) >/dev/null", ci)
    assert installed is not None
    packages = set(installed.group(1).split()) - {"chromium", "chromium-driver"}
    script = commands(workflow["jobs"]["test"])
    (apt,) = [line for line in script.splitlines() if "apt-get install" in line]
    assert packages <= set(apt.split())
    for variable in BROWSER_VARIABLES:
        assert f"{variable}=" in script


def test_every_action_is_pinned_to_a_commit_with_its_version_beside_it():
    text = WORKFLOW.read_text(encoding="utf-8")
    uses = re.findall(r"uses: (\S+)(.*)", text)
    assert uses
    for action, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
        assert re.fullmatch(r" # v\d+\.\d+\.\d+", comment), f"{action}: say which release the SHA is"


def test_checkouts_leave_no_credentials_behind(workflow):
    checkouts = [s for job in workflow["jobs"].values() for s in steps_using(job, "actions/checkout")]
    assert len(checkouts) == 3
    for step in checkouts:
        assert step["with"]["persist-credentials"] is False


def test_dependabot_configuration_matches_its_schema_and_covers_the_pins():
    path = PROJECT_DIR / ".github" / "dependabot.yml"
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.dependabot", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    ecosystems = {u["package-ecosystem"] for u in yaml.safe_load(path.read_text(encoding="utf-8"))["updates"]}
    assert ecosystems == {"github-actions", "uv", "docker"}
