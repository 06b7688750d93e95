"""The image buildspec against CodeBuild's documented syntax and against the Dockerfiles it builds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from components.build_archive import build_archive
from components.buildspec import image_buildspec, render
from components.remote_build import DIGEST_VARIABLE

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/deep-insight-dev-executor:0123456789abcdef"

# The buildspec syntax of https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html
# ("Buildspec syntax"), written out: the keys it allows at each level.
TOP_LEVEL = {"version", "run-as", "env", "proxy", "batch", "phases", "reports", "artifacts", "cache"}
ENV = {"shell", "variables", "parameter-store", "exported-variables", "secrets-manager", "git-credential-helper"}
PHASES = {"install", "pre_build", "build", "post_build"}
PHASE = {"run-as", "on-failure", "runtime-versions", "commands", "finally"}
ON_FAILURE = {"ABORT", "CONTINUE"}


def spec_for(runtime: str) -> dict:
    text = render(image_buildspec(dockerfile=f"runtimes/{runtime}/Dockerfile", image=IMAGE, platform="linux/arm64"))
    return yaml.safe_load(text)  # what CodeBuild reads back


@pytest.mark.parametrize("runtime", ["executor", "agent"])
def test_the_buildspec_uses_only_documented_syntax(runtime):
    spec = spec_for(runtime)
    assert spec["version"] == 0.2  # "version: 0.2" (0.1 is deprecated)
    assert set(spec) <= TOP_LEVEL
    assert set(spec["env"]) <= ENV
    assert all(isinstance(v, str) for v in spec["env"]["variables"].values())  # variables are strings
    assert set(spec["phases"]) <= PHASES
    for phase in spec["phases"].values():
        assert set(phase) <= PHASE
        assert phase["on-failure"] in ON_FAILURE
        assert phase["commands"]
        assert all(isinstance(command, str) for command in phase["commands"])
    assert "runtime-versions" not in {key for name, p in spec["phases"].items() if name != "install" for key in p}


@pytest.mark.parametrize("runtime", ["executor", "agent"])
def test_it_builds_the_dockerfile_the_archive_holds_with_what_that_dockerfile_needs(runtime):
    spec = spec_for(runtime)
    (build,) = spec["phases"]["build"]["commands"]
    dockerfile = re.search(r"--file (\S+)", build).group(1)  # type: ignore[union-attr]
    assert build.endswith(" .")  # the context is the unpacked archive, i.e. the project root
    assert dockerfile in build_archive(ROOT, ROOT / dockerfile).files
    text = (ROOT / dockerfile).read_text(encoding="utf-8")
    # A `# syntax=` line and an ignore file named after the Dockerfile work only with BuildKit (Docker's docs).
    needs_buildkit = text.startswith("# syntax=") or (ROOT / f"{dockerfile}.dockerignore").is_file()
    assert needs_buildkit
    assert spec["env"]["variables"]["DOCKER_BUILDKIT"] == "1"
    assert "--platform linux/arm64" in build


def test_it_pushes_before_exporting_the_digest_and_aborts_on_any_failure():
    spec = spec_for("executor")
    assert spec["env"]["exported-variables"] == [DIGEST_VARIABLE]
    push, export = spec["phases"]["post_build"]["commands"]
    assert push == f"docker push {IMAGE}"
    assert export.startswith(f"export {DIGEST_VARIABLE}=$(docker inspect")
    assert "{{index .RepoDigests 0}}" in export  # Go template braces survive the f-string
    login = spec["phases"]["pre_build"]["commands"][0]
    assert login.endswith("--password-stdin 123456789012.dkr.ecr.us-east-1.amazonaws.com")
    assert {phase["on-failure"] for phase in spec["phases"].values()} == {"ABORT"}
