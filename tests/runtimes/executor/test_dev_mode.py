"""An executor started by hand on a developer's machine is reachable by every web page the developer opens:
a page may send a cross-origin POST of type text/plain without asking (a CORS "simple request"), and may
rebind a name of its own to 127.0.0.1 (its requests then carry that Host). Each attack is a real request to
a real server; the expectation is the attack's: the code did not run (a marker file it would write is absent)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.runtimes.executor.conftest import Executor, StartExecutor, _free_port


def start(executor_venv: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Start the server as a developer would and wait for it to stop (a refused start stops at once)."""
    return subprocess.run(
        [str(executor_venv / "bin" / "deep-insight-executor"), "--port", str(_free_port()), *args],
        env={"PATH": f"{executor_venv / 'bin'}:/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_without_a_token_it_does_not_start(executor_venv):
    refused = start(executor_venv)
    assert refused.returncode == 2
    assert refused.stderr.strip().startswith("deep-insight-executor: no token: set EXECUTOR_TOKEN_FILE"), refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def test_no_token_is_for_loopback_only(executor_venv):
    refused = start(executor_venv, "--insecure-no-token", "--host", "0.0.0.0")
    assert refused.returncode == 2
    assert "--insecure-no-token serves on 127.0.0.1 only, not on 0.0.0.0" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def test_a_token_file_is_read_and_removed(start_executor: StartExecutor, shared_tmp):
    token_file = shared_tmp / "token"
    token_file.write_text("from-a-file-0123456789\n")
    executor = start_executor(token=None, EXECUTOR_TOKEN_FILE=str(token_file))
    assert not token_file.exists()  # gone before the server answers anything
    with httpx.Client(base_url=executor.url, timeout=30) as client:
        assert client.get("/v1/sessions/f/files").status_code == 401
        given = {"Authorization": "Bearer from-a-file-0123456789"}
        assert client.get("/v1/sessions/f/files", headers=given).status_code == 200


@pytest.fixture(scope="module")
def open_executor(executor_venv: Path, shared_tmp: Path) -> Iterator[Executor]:
    """A server started with --insecure-no-token on 127.0.0.1, as a developer might."""
    workdir = shared_tmp / f"open-{time.monotonic_ns()}"
    workdir.mkdir()
    port = _free_port()
    log = shared_tmp / f"open-{port}.log"
    handle = log.open("wb")
    process = subprocess.Popen(
        [str(executor_venv / "bin" / "deep-insight-executor"), "--insecure-no-token", "--port", str(port),
         "--workdir", str(workdir)],
        env={"PATH": f"{executor_venv / 'bin'}:/usr/bin:/bin", "EXECUTOR_MEMORY_LIMIT_MB": "1024"},
        stdout=handle,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    executor = Executor(f"http://127.0.0.1:{port}", process, workdir, log, None, handle)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{executor.url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    yield executor
    executor.stop()


def marker_written(executor: Executor, name: str) -> bool:
    return any(executor.workdir.glob(f"sessions/*/{name}"))


def test_a_cross_origin_text_plain_post_runs_nothing(open_executor):
    body = "{\"code\": \"open('text-plain-ran', 'w').write('x')\"}"
    headers = {"Content-Type": "text/plain", "Origin": "http://evil.example"}
    with httpx.Client(base_url=open_executor.url, timeout=30) as client:
        answer = client.post("/v1/sessions/page/execute", content=body, headers=headers)
    assert answer.status_code == 415, answer.text
    assert not marker_written(open_executor, "text-plain-ran")


def test_a_rebound_host_runs_nothing(open_executor):
    code = {"code": "open('rebound-ran', 'w').write('x')"}
    with httpx.Client(base_url=open_executor.url, timeout=30) as client:
        rebound = client.post(
            "/v1/sessions/page/execute",
            json=code,
            headers={"Host": f"evil.example:{open_executor.url.rsplit(':', 1)[1]}"},
        )
        assert rebound.status_code == 421, rebound.text
        assert client.get("/health", headers={"Host": "evil.example"}).status_code == 421
        assert not marker_written(open_executor, "rebound-ran")
        # The developer's own calls, by a loopback name, still work.
        assert client.post("/v1/sessions/page/execute", json={"code": "print(1)"}).json()["stdout"] == "1\n"
        port = open_executor.url.rsplit(":", 1)[1]
        assert client.get("/health", headers={"Host": f"localhost:{port}"}).status_code == 200
