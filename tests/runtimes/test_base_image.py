"""Both runtime images start from one base image: Docker's official python image from its Amazon ECR Public
mirror, pinned by digest, in a FROM line Dependabot can read and update.

Dependabot's Dockerfile parser (dependabot-core, docker/lib/dependabot/docker/file_parser.rb ``FROM_LINE``, with
the pieces of docker/lib/dependabot/shared/shared_file_parser.rb, at 54c10285) looks at ``FROM`` lines only and
expands no ``ARG``: ``FROM ${PYTHON_IMAGE}`` is no dependency to it, so a digest kept in an ARG is never updated.
`DEPENDABOT_FROM_LINE` is that expression in Python's syntax (Ruby's ``[[:alnum:]]`` as ASCII letters and digits).
"""

from __future__ import annotations

import re

import pytest

from tests.dockerfile import instructions, stage_name, stages
from tests.runtimes.conftest import REPO

RUNTIMES = ("agent", "executor")
REGISTRY = "public.ecr.aws"
"""Amazon ECR Public: anonymous pulls, not Docker Hub's per-address limit."""
IMAGE = "docker/library/python"
"""Docker's official images on ECR Public (gallery.ecr.aws/docker/library/python)."""

_DOMAIN_COMPONENT = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})+)"
_NAME_COMPONENT = r"(?:[a-z\d]+(?:(?:[._]|__|[-]*)[a-z\d]+)*)"
DEPENDABOT_FROM_LINE = re.compile(
    r"^(?i:FROM)\s+(--platform=(?P<platform>\S+)\s+)?"
    rf"((?P<registry>{_DOMAIN}(?::\d+)?)/)?"
    rf"(?P<image>{_NAME_COMPONENT}(?:/{_NAME_COMPONENT})*)"
    r"(:(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@sha256:(?P<digest>[0-9a-f]{64}))?"
    r"(\s+AS\s+(?P<name>[\w-]+))?"
)


def dependabot_dependencies(text: str) -> list[dict[str, str | None]]:
    """What Dependabot's parser takes from a Dockerfile: each FROM line it matches that has a tag or digest."""
    found = []
    for line in text.splitlines():
        match = DEPENDABOT_FROM_LINE.match(line)
        if match and (match["tag"] or match["digest"]):
            found.append({k: match[k] for k in ("registry", "image", "tag", "digest")})
    return found


def dockerfile(runtime: str) -> str:
    return (REPO / "runtimes" / runtime / "Dockerfile").read_text(encoding="utf-8")


def test_dependabot_sees_the_one_pinned_base_image_of_each_dockerfile():
    seen = {runtime: dependabot_dependencies(dockerfile(runtime)) for runtime in RUNTIMES}
    assert seen["agent"] == seen["executor"], seen
    (base,) = seen["agent"]
    assert (base["registry"], base["image"], base["tag"]) == (REGISTRY, IMAGE, "3.12-slim-bookworm")
    assert re.fullmatch(r"[0-9a-f]{64}", base["digest"] or ""), base


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_every_stage_builds_on_the_base_stage(runtime):
    found = stages(dockerfile(runtime))
    first, *others = found
    assert [i.keyword for i in first] == ["FROM"]  # the reference, named, and nothing else
    assert first[0].arguments.startswith(f"{REGISTRY}/{IMAGE}:")
    assert stage_name(first) == "base"
    assert {stage[0].arguments.split()[0] for stage in others} == {"base"}


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_no_remote_frontend_and_nothing_that_would_need_one(runtime):
    # Without a `# syntax=` directive BuildKit uses the Dockerfile frontend built into the engine, pulled from
    # nowhere. The features that need a newer frontend than an engine may carry are absent.
    text = dockerfile(runtime)
    assert not re.search(r"^#\s*syntax\s*=", text, re.MULTILINE | re.IGNORECASE)
    for step in instructions(text):
        assert "<<" not in step.arguments, f"{step.keyword} uses a heredoc"
        flags = {w.split("=")[0] for w in step.arguments.split() if w.startswith("--")}
        assert not flags & {"--mount", "--network", "--security", "--link", "--parents", "--exclude"}, step


def test_the_dependabot_expression_reads_what_dependabot_documents():
    # The parser's own cases: a registry with a port, a digest-only pin, a named stage, and an ARG it skips.
    assert dependabot_dependencies("FROM registry.example.com:5000/team/app:1.2.3 AS x\n") == [
        {"registry": "registry.example.com:5000", "image": "team/app", "tag": "1.2.3", "digest": None}
    ]
    digest = "a" * 64
    assert dependabot_dependencies(f"FROM ubuntu@sha256:{digest}\n") == [
        {"registry": None, "image": "ubuntu", "tag": None, "digest": digest}
    ]
    assert dependabot_dependencies("ARG IMAGE=python:3.12@sha256:" + digest + "\nFROM ${IMAGE}\nFROM base\n") == []
