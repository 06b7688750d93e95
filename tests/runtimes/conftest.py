"""Shared by the runtimes' tests. A real executor: installed from its own dependency list into a fresh virtual environment, started
with its console script on 127.0.0.1, talked to over HTTP. Servers stop by themselves at teardown."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from tests.moto_server import free_port, moto_server

REPO = Path(__file__).resolve().parents[2]
EXECUTOR_PROJECT = REPO / "runtimes" / "executor"
DATA = REPO.parent / "shared" / "data" / "fresh-food-sales.csv"
TOKEN = "test-token-0123456789abcdef"


def _base_python() -> str:
    # Workers run as their own uid when the server is root (as here): the interpreter must be one
    # that other users can run, i.e. not one under /root (pyenv). Debian's python3.11 is.
    for candidate in ("/usr/bin/python3.11", "/usr/bin/python3"):
        if Path(candidate).exists():
            return candidate
    return sys.executable


def fresh_venv(folder: Path, project: Path, python: str | None = None) -> Path:
    """A new virtual environment holding what the runtime's image installs: its ``requirements.lock``
    (hash-checked, exactly those versions), then the contract and the runtime without dependencies."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not on PATH; install it with `pip install uv` (the README's prerequisites)")
    subprocess.run([uv, "venv", "--quiet", *(["--python", python] if python else []), str(folder)], check=True)
    target = ["--python", str(folder / "bin" / "python")]
    locked = ["--require-hashes", "--no-deps", "-r", str(project / "requirements.lock")]
    subprocess.run([uv, "pip", "install", "--quiet", *target, *locked], check=True)
    subprocess.run(
        [uv, "pip", "install", "--quiet", *target, "--no-deps", str(REPO / "contract"), str(project)], check=True
    )
    return folder


def s3_client(endpoint: str):
    """A boto3 S3 client for moto's server."""
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


_free_port = free_port  # the name the runtime tests import


@dataclass
class Executor:
    url: str
    process: subprocess.Popen
    workdir: Path
    log: Path
    token: str | None
    log_handle: Any = None

    def client(self, token: str | None = "default", timeout: float = 60) -> httpx.Client:
        token = self.token if token == "default" else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def stop(self, timeout: float = 30) -> int:
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    return self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
                    return -9
            return self.process.returncode
        finally:
            if self.log_handle is not None and not self.log_handle.closed:
                self.log_handle.close()


StartExecutor = Callable[..., Executor]


@pytest.fixture(scope="module")
def executor(start_executor: StartExecutor) -> Executor:
    return start_executor()


def run(client: httpx.Client, sid: str, code: str, **extra) -> dict:
    response = client.post(f"/v1/sessions/{sid}/execute", json={"code": code, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def assert_alive(client: httpx.Client, sid: str) -> None:
    """The server still answers /health, and the session takes the next call."""
    assert client.get("/health").status_code == 200
    result = run(client, sid, "print('still here')")
    assert result["status"] == "ok", result
    assert result["stdout"] == "still here\n"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 (and everything else) as a real server on 127.0.0.1."""
    with moto_server() as endpoint:
        yield endpoint
