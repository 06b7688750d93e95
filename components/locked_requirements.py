"""What each runtime image installs: ``runtimes/<runtime>/requirements.lock``, uv.lock's export for that
runtime with hashes (the versions the tests ran with). A stack that builds its images (local or CodeBuild)
checks both files against uv.lock before it declares anything, and stops with one line when one is stale.

Write both files: ``uv run python -m components.locked_requirements``.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from pathlib import Path

RUNTIMES = ("agent", "executor")
LOCK_NAME = "requirements.lock"


def export_command(runtime: str) -> list[str]:
    return ["export", "--frozen", "--package", f"deep-insight-{runtime}", "--no-dev", "--no-emit-workspace",
            "--no-header", "--format", "requirements-txt", "--quiet"]  # fmt: skip


def exported(project_dir: Path, runtime: str) -> str:
    uv = shutil.which("uv")
    if uv is None:
        raise RuntimeError("uv is not on PATH: the image builds check their locked requirements with it")
    done = subprocess.run([uv, *export_command(runtime)], cwd=project_dir, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"uv export for {runtime} failed: {(done.stderr.strip().splitlines() or ['no message'])[-1]}"
        )
    return done.stdout


@functools.cache
def stale(project_dir: Path, runtime: str) -> str | None:
    """Why ``runtimes/<runtime>/requirements.lock`` cannot be built from (one line), or None."""
    path = project_dir / "runtimes" / runtime / LOCK_NAME
    try:
        current = exported(project_dir, runtime)
    except RuntimeError as error:
        return str(error)
    if not path.is_file() or path.read_text(encoding="utf-8") != current:
        return f"runtimes/{runtime}/{LOCK_NAME} is not uv.lock's export: run `uv run python -m {__name__}`"
    return None


def main() -> None:
    project_dir = Path.cwd()
    for runtime in RUNTIMES:
        (project_dir / "runtimes" / runtime / LOCK_NAME).write_text(exported(project_dir, runtime), encoding="utf-8")
        print(f"wrote runtimes/{runtime}/{LOCK_NAME}", file=sys.stderr)


if __name__ == "__main__":
    main()
