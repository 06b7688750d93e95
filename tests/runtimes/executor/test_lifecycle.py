"""How an executor ends: its session deleted or timed out (pinned: it exits), SIGTERM, bad settings."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time

import httpx

from tests.runtimes.executor.conftest import run


def wait_for_exit(executor, seconds: float = 20) -> int:
    return executor.process.wait(seconds)


def test_deleting_the_pinned_session_finishes_the_executor(start_executor):
    pinned = start_executor(SESSION_ID="job-1")
    with pinned.client() as client:
        run(client, "job-1", "x = 1")
        assert client.delete("/v1/sessions/job-1").status_code == 204
        health = client.get("/health")
        assert health.status_code == 503  # the ALB stops routing to it at once
        assert health.json()["status"] == "finished"
        assert client.post("/v1/sessions/job-1/execute", json={"code": "1"}).status_code == 503
    assert wait_for_exit(pinned) == 0
    assert not any((pinned.workdir / "sessions").iterdir())


def test_idle_session_is_released_and_a_pinned_executor_exits(start_executor):
    pinned = start_executor(SESSION_ID="idle-job", EXECUTOR_IDLE_TIMEOUT_SECONDS="2")
    with pinned.client() as client:
        run(client, "idle-job", "open('f.txt', 'w').write('x')")
        assert client.get("/health").json()["sessions"] == 1
    assert wait_for_exit(pinned, 30) == 0
    log = pinned.log.read_text()
    assert '"message": "session ended: idle timeout"' in log
    assert '"sessionId": "idle-job"' in log


def test_session_timeout_applies_even_without_any_call(start_executor):
    pinned = start_executor(SESSION_ID="never-called", EXECUTOR_SESSION_TIMEOUT_SECONDS="2")
    assert wait_for_exit(pinned, 30) == 0
    assert "session timeout before any call" in pinned.log.read_text()


def test_unpinned_idle_sessions_are_released_but_the_server_stays(start_executor):
    server = start_executor(EXECUTOR_IDLE_TIMEOUT_SECONDS="2")
    with server.client() as client:
        run(client, "a", "1")
        deadline = time.monotonic() + 20
        while client.get("/health").json()["sessions"] and time.monotonic() < deadline:
            time.sleep(0.5)
        assert client.get("/health").json() == {"status": "ok", "sessions": 0}
    assert server.process.poll() is None
    assert server.stop() == 0


def test_sigterm_finishes_running_calls_and_exits_zero(start_executor):
    server = start_executor()
    results: dict[str, dict] = {}

    def long_call() -> None:
        with server.client() as client:
            results["call"] = run(client, "busy", "import time; time.sleep(2); print('done')")

    with server.client() as client:
        run(client, "busy", "1")
    caller = threading.Thread(target=long_call)
    caller.start()
    time.sleep(0.5)
    server.process.send_signal(signal.SIGTERM)
    caller.join(30)
    assert results["call"]["stdout"] == "done\n"
    assert server.process.wait(30) == 0
    log = server.log.read_text()
    assert '"message": "executor stopped"' in log
    # JSON logs, one object per line, every request line with its session.
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("path", "").startswith("/v1/sessions/busy")]
    assert requests
    assert all(line["sessionId"] == "busy" for line in requests)


def test_bad_settings_stop_with_one_line(executor_venv):
    result = subprocess.run(
        [str(executor_venv / "bin" / "deep-insight-executor")],
        env={"PATH": "/usr/bin:/bin", "EXECUTOR_MAX_OUTPUT_BYTES": "lots"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "deep-insight-executor: EXECUTOR_MAX_OUTPUT_BYTES='lots' is not a number; use int 1024..67108864"
    )


def test_help_explains_the_options(executor_venv):
    result = subprocess.run(
        [str(executor_venv / "bin" / "deep-insight-executor"), "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0
    assert "--host" in result.stdout
    assert "--port" in result.stdout


def test_unreachable_after_exit(start_executor):
    server = start_executor()
    url = server.url
    assert server.stop() == 0
    try:
        httpx.get(f"{url}/health", timeout=1)
    except httpx.TransportError:
        return
    raise AssertionError("the server still answers after it exited")
