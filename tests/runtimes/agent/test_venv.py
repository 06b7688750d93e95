"""The agent image's dependency list, installed into a fresh venv, starts the app: /ping answers."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.runtimes.conftest import REPO, _free_port, fresh_venv


@pytest.fixture(scope="module")
def agent_venv(shared_tmp: Path) -> Path:
    return fresh_venv(shared_tmp / "agent-venv", REPO / "runtimes" / "agent")


def start_agent(agent_venv: Path, *host: str) -> tuple[subprocess.Popen, int, httpx.Response]:
    """The installed agent against an executor URL nothing listens on; returns once it answers /ping."""
    port = _free_port()
    process = subprocess.Popen(
        [str(agent_venv / "bin" / "deep-insight-agent"), *host, "--port", str(port), "--local-executor", "http://127.0.0.1:9",
         "--insecure-no-token"],
        env={"PATH": "/usr/bin:/bin", "AWS_REGION": "us-east-1", "DEEP_INSIGHT_MODEL_ID": "us.anthropic.claude-sonnet-4-5-20250929-v1:0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        try:
            return process, port, httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1)
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the agent did not answer /ping within 60 s"
            time.sleep(0.2)


def test_the_app_starts_from_its_own_dependencies(agent_venv):
    process, _, ping = start_agent(agent_venv, "--host", "127.0.0.1")
    try:
        assert ping.status_code == 200
        assert ping.json()["status"] == "Healthy"
    finally:
        process.terminate()
        process.wait(20)
        if process.stdout:
            process.stdout.close()


def test_missing_settings_stop_with_one_line(agent_venv):
    result = subprocess.run(
        [str(agent_venv / "bin" / "deep-insight-agent")],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "deep-insight-agent: missing environment: AWS_REGION, DEEP_INSIGHT_MODEL_ID"


def test_the_installed_package_carries_its_prompts(agent_venv):
    result = subprocess.run(
        [str(agent_venv / "bin" / "python"), "-c",
         "from deep_insight_agent.workflow import AGENTS, system_prompt; print(all('Korean' in system_prompt(a, 'ko') for a in AGENTS))"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert result.stdout.strip() == "True"


def listening_address(port: int) -> str:
    """The local address a socket listens on for ``port`` (the kernel's /proc/net/tcp, state 0A = LISTEN)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if int(hex_port, 16) == port and state == "0A":
            return ".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0))
    raise AssertionError(f"nothing listens on port {port}")


def test_outside_the_container_it_listens_on_loopback_logs_once_and_names_an_unreachable_executor(agent_venv):
    process, port, _ = start_agent(agent_venv)  # no --host: the default
    try:
        assert listening_address(port) == "127.0.0.1"
        answer = httpx.post(
            f"http://127.0.0.1:{port}/invocations",
            json={"prompt": "총 매출은?"},
            headers={"X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": "venv-session-0123456789abcdef0123456789"},
            timeout=60,
        )
        events = [json.loads(line[len("data: ") :]) for line in answer.text.splitlines() if line.startswith("data: ")]
        assert [e["type"] for e in events] == ["status", "error"]
        assert events[0]["phase"] == "executor starting"
        assert "the executor at http://127.0.0.1:9 is not reachable" in events[1]["message"]
    finally:
        process.terminate()
        process.wait(20)
        output = process.stdout.read().decode() if process.stdout else ""
        if process.stdout:
            process.stdout.close()
    lines = [line for line in output.splitlines() if line.strip()]
    assert sum("listening on http://127.0.0.1:" in line for line in lines) == 1
    assert len(lines) == len(set(lines)), f"a line was logged twice:\n{output}"
