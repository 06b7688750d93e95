"""Each runtime's requirements.lock is uv.lock's export for it: what its image and its fresh-venv tests
install is what the tests ran with. A stale file fails here (fix: uv run python -m components.locked_requirements)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

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
