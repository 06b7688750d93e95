"""The agent image's dependency list, installed into a fresh venv, starts the app: /ping answers."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.runtimes.conftest import REPO, _free_port, fresh_venv


@pytest.fixture(scope="module")
def agent_venv(shared_tmp: Path) -> Path:
    return fresh_venv(shared_tmp / "agent-venv", REPO / "runtimes" / "agent")


def test_the_app_starts_from_its_own_dependencies(agent_venv):
    port = _free_port()
    process = subprocess.Popen(
        [str(agent_venv / "bin" / "deep-insight-agent"), "--host", "127.0.0.1", "--port", str(port),
         "--local-executor", "http://127.0.0.1:9"],
        env={"PATH": "/usr/bin:/bin", "AWS_REGION": "us-east-1", "DEEP_INSIGHT_MODEL_ID": "us.anthropic.claude-sonnet-4-5-20250929-v1:0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            try:
                ping = httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the agent did not answer /ping within 60 s"
                time.sleep(0.2)
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
