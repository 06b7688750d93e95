"""What each image's build sends and installs: the project root as context, narrowed by the Dockerfile's own
ignore file to what that Dockerfile COPYs; the contract package installed before the runtime."""

from __future__ import annotations

import posixpath
import shlex
import shutil
import tomllib
from pathlib import Path

import pytest

from components import dockerignore
from components.build_context import context_digest, context_files
from ops.evaluate import PROJECT_DIR
from tests.dockerfile import Instruction, copy_sources, stage_named, stages

RUNTIMES = ("executor", "agent")


def dockerfile_of(runtime: str, project: Path = PROJECT_DIR) -> Path:
    return project / "runtimes" / runtime / "Dockerfile"


# --- the matcher: Docker's documented .dockerignore semantics ---


@pytest.mark.parametrize(
    ("patterns", "path", "ignored"),
    [
        # Docker's reference ("Build context", .dockerignore files): root-anchored, * within one level.
        ("*/temp*", "somedir/temporary.txt", True),
        ("*/temp*", "somedir/temp", True),
        ("*/temp*", "temporary.txt", False),
        ("*/temp*", "somedir/subdir/temporary.txt", False),
        ("*/*/temp*", "somedir/subdir/temporary.txt", True),
        ("temp?", "tempa", True),
        ("temp?", "temp", False),
        ("**/*.go", "a/b/c.go", True),
        ("**/*.go", "c.go", True),
        ("*.md\n!README.md", "README.md", False),
        ("*.md\n!README.md", "CHANGES.md", True),
        ("*.md\n!README*.md\nREADME-secret.md", "README-secret.md", True),
        ("*.md\n!README*.md\nREADME-secret.md", "README-public.md", False),
        # A pattern matching a folder takes everything in it; later patterns can bring some back.
        ("docs", "docs/a/b.txt", True),
        ("*\n!src", "src/pkg/module.py", False),
        ("*\n!src", "tests/test_x.py", True),
        ("*\n!src\n**/__pycache__", "src/pkg/__pycache__/module.pyc", True),
        # Unlike .gitignore, a bare pattern is not matched in subfolders.
        ("*.pyc", "pkg/module.pyc", False),
        # Cleaned like paths; comments and blank lines are skipped.
        ("# a comment\n\n/build/", "build/out.bin", True),
        ("./a//b", "a/b/c", True),
        (r"file\?.txt", "file?.txt", True),
        (r"file\?.txt", "filex.txt", False),
        ("data[0-9].csv", "data7.csv", True),
        ("data[0-9].csv", "datax.csv", False),
        ("a.b", "axb", False),
    ],
)
def test_patterns_follow_dockerignore_semantics(patterns, path, ignored):
    assert dockerignore.is_ignored(dockerignore.parse(patterns), path) is ignored


def test_included_files_skips_ignored_folders_but_finds_what_is_brought_back(tmp_path):
    for path in ("a/keep/x.py", "a/drop/y.py", "b/z.py", "top.txt", "a/keep/__pycache__/x.pyc"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x")
    patterns = dockerignore.parse("*\n!a/keep\n**/__pycache__\n")
    assert dockerignore.included_files(tmp_path, patterns) == ["a/keep/x.py"]


# --- the real ignore files and Dockerfiles ---


def _covered(path: str, sources: list[str]) -> bool:
    return any(path == source or path.startswith(source.rstrip("/") + "/") for source in sources)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_every_copied_path_is_sent_and_nothing_else(runtime):
    dockerfile = dockerfile_of(runtime)
    ignore = dockerfile.with_name("Dockerfile.dockerignore")
    patterns = dockerignore.parse(ignore.read_text(encoding="utf-8"))
    sources = [s for stage in stages(dockerfile.read_text(encoding="utf-8")) for s in copy_sources(stage)]
    assert sources, "the Dockerfile copies nothing from the context?"
    sent = context_files(PROJECT_DIR, dockerfile)
    for source in sources:
        assert not dockerignore.is_ignored(patterns, source), f"{source} is COPYed but {ignore.name} leaves it out"
        assert _covered(source, sent) or any(_covered(f, [source]) for f in sent), f"nothing under {source} is sent"
    build_files = {p.relative_to(PROJECT_DIR).as_posix() for p in (dockerfile, ignore)}
    extra = [path for path in sent if not _covered(path, sources) and path not in build_files]
    assert extra == [], f"sent to the builder though no COPY uses it: {extra}"
    assert not [path for path in sent if "__pycache__" in path or path.endswith(".pyc")]


def _workdir_and_copies(stage: list[Instruction]) -> tuple[list[str], list[tuple[str, str]]]:
    """The stage's RUN commands (with the WORKDIR each runs in) and (context path, image path) copies."""
    workdir, runs, copies = "/", [], []
    for instruction in stage:
        if instruction.keyword == "WORKDIR":
            workdir = posixpath.join(workdir, instruction.arguments)
        elif instruction.keyword == "RUN":
            runs.append(f"cd {workdir} && {instruction.arguments}")
        elif instruction.keyword == "COPY" and "--from=" not in instruction.arguments:
            *sources, dest = shlex.split(instruction.arguments)
            target = posixpath.join(workdir, dest)
            for source in sources:
                landed = posixpath.join(target, posixpath.basename(source)) if dest.endswith("/") else target
                copies.append((source, posixpath.normpath(landed)))
    return runs, copies


def _pip_installs(run: str) -> tuple[list[str], list[str]]:
    """The local paths a RUN's ``pip install`` commands install, in order, and the requirement files they
    read (``-r``), each resolved against its WORKDIR."""
    cwd, installed, requirements = "/", [], []
    for command in (c.split() for c in run.split("&&")):
        if command[:1] == ["cd"]:
            cwd = command[1]
        elif len(command) > 2 and command[0].endswith("pip") and command[1] == "install":
            arguments = iter(command[2:])
            for argument in arguments:
                if argument == "-r":
                    requirements.append(posixpath.normpath(posixpath.join(cwd, next(arguments))))
                elif not argument.startswith("-"):
                    installed.append(posixpath.normpath(posixpath.join(cwd, argument)))
    return installed, requirements


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_the_build_installs_the_contract_package_before_the_runtime(runtime):
    contract = tomllib.loads((PROJECT_DIR / "contract" / "pyproject.toml").read_text())["project"]["name"]
    runtime_project = tomllib.loads((PROJECT_DIR / "runtimes" / runtime / "pyproject.toml").read_text())["project"]
    assert contract in runtime_project["dependencies"]  # not on any index: the image must bring it
    build = stage_named(dockerfile_of(runtime).read_text(encoding="utf-8"), "build")
    runs, copies = _workdir_and_copies(build)
    installs = [path for run in runs for path in _pip_installs(run)[0]]
    requirements = [path for run in runs for path in _pip_installs(run)[1]]
    landed = dict(copies)
    # The locked, hashed dependency set first (installed with --require-hashes), from the runtime's folder.
    assert requirements == [landed[f"runtimes/{runtime}/requirements.lock"]]
    assert "--require-hashes" in " ".join(runs)
    # Each installed folder holds the pyproject.toml and src of the matching project folder.
    sources = {"contract": installs[0], f"runtimes/{runtime}": installs[1]}
    assert len(installs) == 2, installs
    for project, image_path in sources.items():
        assert landed[f"{project}/pyproject.toml"] == f"{image_path}/pyproject.toml"
        assert landed[f"{project}/src"] == f"{image_path}/src"


# --- the tag: a digest of exactly what the agent image's build sends ---


def _copy_project(tmp_path: Path) -> Path:
    for folder in ("contract", "runtimes"):
        shutil.copytree(PROJECT_DIR / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("def test(): pass\n")
    (tmp_path / "README.md").write_text("# Deep Insight\n")
    return tmp_path


@pytest.mark.parametrize(
    ("changed", "rolls"),
    [
        ("contract/src/deep_insight_contract/__init__.py", True),
        ("contract/pyproject.toml", True),
        ("runtimes/agent/src/deep_insight_agent/__init__.py", True),
        ("runtimes/agent/pyproject.toml", True),
        ("runtimes/agent/Dockerfile", True),
        ("runtimes/agent/Dockerfile.dockerignore", True),
        ("tests/test_x.py", False),
        ("README.md", False),
        ("runtimes/executor/src/deep_insight_executor/__init__.py", False),
        ("runtimes/executor/Dockerfile", False),
        ("runtimes/agent/src/deep_insight_agent/__pycache__/app.cpython-312.pyc", False),
        ("runtimes/agent/notes.txt", False),
    ],
)
def test_the_agent_tag_follows_exactly_what_its_build_sends(tmp_path, changed, rolls):
    project = _copy_project(tmp_path)
    dockerfile = dockerfile_of("agent", project)
    before = context_digest(project, dockerfile)
    target = project / changed
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a") as handle:
        handle.write("\n# changed\n")
    assert (context_digest(project, dockerfile) != before) is rolls
