"""Each runtime's requirements.lock is uv.lock's export for it: what its image and its fresh-venv tests
install is what the tests ran with. A stale file fails here (fix: uv run python -m components.locked_requirements)."""

from __future__ import annotations

import shutil
import subprocess
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.tags import Tag
from packaging.utils import canonicalize_name, parse_wheel_filename

from tests.runtimes.conftest import REPO


@pytest.mark.parametrize("runtime", ["agent", "executor"])
def test_the_image_lock_is_uv_locks_export(runtime):
    uv = shutil.which("uv")
    assert uv is not None
    exported = subprocess.run(
        [uv, "export", "--frozen", "--package", f"deep-insight-{runtime}", "--no-dev", "--no-emit-workspace",
         "--no-header", "--format", "requirements-txt", "--quiet"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    committed = (REPO / "runtimes" / runtime / "requirements.lock").read_text(encoding="utf-8")
    assert committed == exported, f"runtimes/{runtime}/requirements.lock is stale"


@pytest.mark.parametrize("runtime", ["agent", "executor"])
def test_every_locked_requirement_is_pinned_and_hashed(runtime):
    text = (REPO / "runtimes" / runtime / "requirements.lock").read_text(encoding="utf-8")
    requirements = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert requirements
    for line in requirements:
        assert "==" in line, line
        assert line.rstrip().endswith("\\"), f"{line}: no --hash follows"


def _wheels_in_lock() -> dict[str, list[str]]:
    """Each locked package's wheel file names, from uv.lock."""
    lock = tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))
    return {
        canonicalize_name(package["name"]): [wheel["url"].rsplit("/", 1)[-1] for wheel in package.get("wheels", [])]
        for package in lock["package"]
    }


@pytest.mark.parametrize("runtime", ["agent", "executor"])
@pytest.mark.parametrize("machine", ["aarch64", "x86_64"])
def test_every_locked_requirement_has_a_wheel_for_the_images_python_on_linux(runtime, machine):
    """The images run CPython 3.12 on glibc Linux (python:3.12-slim-bookworm) and install wheels: each
    requirement that applies there (its marker, evaluated for that machine) needs a wheel for it."""
    environment = {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": machine,
                   "python_version": "3.12", "python_full_version": "3.12.0", "implementation_name": "cpython",
                   "platform_python_implementation": "CPython", "os_name": "posix"}  # fmt: skip
    wheels = _wheels_in_lock()
    text = (REPO / "runtimes" / runtime / "requirements.lock").read_text(encoding="utf-8")
    missing = []
    for line in text.splitlines():
        if line.startswith((" ", "#")) or "==" not in line:
            continue
        requirement = Requirement(line.rstrip(" \\"))
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        tags = [parse_wheel_filename(wheel)[3] for wheel in wheels[canonicalize_name(requirement.name)]]
        if not any(_runs_on(tag, machine) for tag_set in tags for tag in tag_set):
            missing.append(requirement.name)
    assert missing == []


def _runs_on(tag: Tag, machine: str) -> bool:
    if tag.platform == "any":
        return tag.interpreter.startswith("py3")
    python = tag.interpreter in ("cp312", "py3") or tag.abi == "abi3"
    return python and tag.platform.startswith("manylinux") and tag.platform.endswith(machine)
