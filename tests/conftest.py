"""Shared harness: the real program evaluated offline under Pulumi mocks (ops.evaluate), and the real
executor (tests/runtimes, tests/ops: one fresh venv per test session).

`evaluate_stack` runs ``__main__.py`` for a stack file, optionally with config overrides, and returns an
`Evaluation` (resources with inputs and options, outputs, warnings, configuration error). The dev and
prod evaluations are made once per test session; they are read-only for the tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import httpx
import pytest

from ops.evaluate import PROJECT_DIR, Evaluation, evaluate
from tests.runtimes.conftest import (
    EXECUTOR_PROJECT,
    TOKEN,
    Executor,
    StartExecutor,
    _base_python,
    _free_port,
    fresh_venv,
)

EvaluateStack = Callable[..., Evaluation]


def key(name: str) -> str:
    return f"deep-insight:{name}"


def copy_program(target: Path) -> Path:
    """What `pulumi up` reads of the project (the program, dev's stack file, the runtimes and the contract, and the lock),
    copied to ``target`` so a test may change a file and evaluate the program again."""
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "__main__.py", "pyproject.toml", "uv.lock"):
        shutil.copy(PROJECT_DIR / name, target / name)
    for folder in ("runtimes", "contract"):
        shutil.copytree(PROJECT_DIR / folder, target / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture(scope="session")
def evaluate_stack() -> EvaluateStack:
    def run(stack: str = "dev", overrides: Mapping[str, str | None] | None = None, **kwargs) -> Evaluation:
        return evaluate(stack, overrides, **kwargs)

    return run


@pytest.fixture(scope="session")
def dev(evaluate_stack: EvaluateStack) -> Evaluation:
    result = evaluate_stack("dev")
    assert result.error is None, result.error
    return result


@pytest.fixture(scope="session")
def dev_nat(evaluate_stack: EvaluateStack) -> Evaluation:
    """dev with one NAT gateway (natGateways single, the setting's default): what tests of NAT wiring read."""
    result = evaluate_stack("dev", {key("network.natGateways"): "single"})
    assert result.error is None, result.error
    return result


@pytest.fixture(scope="session")
def prod(evaluate_stack: EvaluateStack) -> Evaluation:
    result = evaluate_stack("prod")
    assert result.error is None, result.error
    return result


# --- the real executor (tests/runtimes and tests/ops): one venv per test session ---


@pytest.fixture(scope="session")
def shared_tmp() -> Iterator[Path]:
    """A temporary folder other uids can traverse (pytest's own tmp folders are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="deep-insight-executor-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def executor_venv(shared_tmp: Path) -> Path:
    """A fresh venv with only the executor's own dependencies (what the image installs)."""
    return fresh_venv(shared_tmp / "venv", EXECUTOR_PROJECT, _base_python())


@pytest.fixture(scope="module")
def start_executor(executor_venv: Path, shared_tmp: Path) -> Iterator[StartExecutor]:
    """Start real servers; each stops at the end of the module that started it. (Non-root servers share one
    uid, whose process cap counts every live server's threads and kernels: none may outlive its module.)"""
    started: list[Executor] = []

    def start(
        token: str | None = TOKEN,
        *,
        as_uid: int | None = None,
        workdir: Path | None = None,
        wrap: list[str] | None = None,
        **env: str,
    ) -> Executor:
        """``as_uid``: run the server as that unprivileged uid (as the image does), so that user code
        runs as the server's own uid instead of one of its own. ``workdir``: an empty folder to use (one
        on a filesystem of the test's choosing) instead of a new one under ``shared_tmp``. ``wrap``: a command
        that starts the server as its child (a container's init)."""
        workdir = workdir or Path(tempfile.mkdtemp(prefix="work-", dir=shared_tmp))
        workdir.chmod(0o755)
        if as_uid is not None:
            os.chown(workdir, as_uid, as_uid)
        port = _free_port()
        log = workdir.parent / f"{workdir.name}.log"
        environment = {
            "PATH": f"{executor_venv / 'bin'}:/usr/bin:/bin",
            "EXECUTOR_MEMORY_LIMIT_MB": "1536",
            "EXECUTOR_MAX_PROCESSES": "64",
            **({"EXECUTOR_TOKEN": token} if token else {}),
            **env,
        }
        handle = log.open("wb")
        process = subprocess.Popen(
            [*(wrap or []), str(executor_venv / "bin" / "deep-insight-executor"), "--host", "127.0.0.1", "--port", str(port),
             "--workdir", str(workdir)],
            env=environment,
            stdout=handle,
            stderr=subprocess.STDOUT,
            **({"user": as_uid, "group": as_uid, "extra_groups": []} if as_uid is not None else {}),
        )  # fmt: skip
        executor = Executor(f"http://127.0.0.1:{port}", process, workdir, log, token, handle)
        started.append(executor)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"executor exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{executor.url}/health", timeout=1).status_code == 200:
                    return executor
            except httpx.TransportError:
                time.sleep(0.1)
        pytest.fail(f"executor did not answer /health within 30 s:\n{log.read_text()[-3000:]}")

    yield start
    for executor in started:
        executor.stop()
        if executor.workdir.parent == Path("/var/tmp"):  # a local run's place (the sandbox mode's), not shared_tmp
            shutil.rmtree(executor.workdir, ignore_errors=True)
            executor.log.unlink(missing_ok=True)
