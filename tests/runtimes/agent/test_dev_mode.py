"""Attacks on the agent app started for local development, as a web page in the developer's browser or
another local user would make them: a foreign Host (DNS rebinding), a cross-origin text/plain POST, no
token. The agent is the real process (``deep-insight-agent --local-executor URL``) on 127.0.0.1; its
executor URL is a canary port, so "nothing started" means that nothing reached the executor."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from deep_insight_contract.environment import AgentEnv
from deep_insight_contract.target_group import SessionTargetGroupTemplate

from tests.moto_server import free_port
from tests.runtimes.agent.dev_agent import AGENT_SCRIPT, SESSION, SESSION_HEADER, Canary, agent_env, running_agent

PAYLOAD = json.dumps({"prompt": "총 매출은?"})
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def canary():
    port = Canary()
    yield port
    port.close()


@pytest.fixture
def token_file(tmp_path) -> Path:
    path = tmp_path / "agent-token"
    path.write_text("dev-token-0123456789abcdef\n")
    path.chmod(0o600)
    return path


def bearer(token_file: Path) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_file.read_text().strip()}"}


def nothing_reached(canary: Canary, seconds: float = 2.0) -> bool:
    """No connection to the executor within ``seconds`` (a job reaches it at once when it starts)."""
    time.sleep(seconds)
    return canary.connections == 0


def one_line_error(answer: httpx.Response) -> str:
    """The refusal's message: the body is one line of JSON with an ``error``."""
    assert answer.headers["content-type"] == "application/json"
    assert answer.text.index("\n") == len(answer.text) - 1, answer.text
    return answer.json()["error"]


def test_a_foreign_host_is_refused_and_starts_nothing(tmp_path, canary, token_file):
    with running_agent(tmp_path, "--local-executor", canary.url, "--token-file", str(token_file)) as agent:
        evil = {"Host": f"evil.example:{agent.port}"}
        ping = httpx.get(f"{agent.url}/ping", headers=evil, timeout=10)
        invocation = httpx.post(
            f"{agent.url}/invocations",
            content=PAYLOAD,
            headers={**evil, **JSON, **bearer(token_file), SESSION_HEADER: SESSION},
            timeout=30,
        )
        assert (ping.status_code, invocation.status_code) == (421, 421), (ping.text, invocation.text)
        assert one_line_error(invocation).startswith(f"Host 'evil.example:{agent.port}' is not a name this agent")
        assert nothing_reached(canary)


def test_a_cross_origin_text_plain_post_is_refused_and_starts_nothing(tmp_path, canary):
    with running_agent(tmp_path, "--local-executor", canary.url, "--insecure-no-token") as agent:
        # What a page on another origin may send without a CORS preflight: a text/plain body. A browser adds no
        # session header to such a request; a page on the agent's own origin (or any local process) can.
        simple = {"Content-Type": "text/plain", "Origin": "http://evil.example"}
        for headers in (simple, {**simple, SESSION_HEADER: SESSION}):
            answer = httpx.post(f"{agent.url}/invocations", content=PAYLOAD, headers=headers, timeout=30)
            assert answer.status_code == 415, answer.text
        assert one_line_error(answer) == "the body must be sent as Content-Type: application/json, not 'text/plain'"
        assert nothing_reached(canary)


def test_with_a_token_only_its_bearer_starts_a_job(tmp_path, canary, token_file):
    with running_agent(tmp_path, "--local-executor", canary.url, "--token-file", str(token_file)) as agent:
        assert httpx.get(f"{agent.url}/ping", timeout=10).status_code == 200  # health checks carry no token
        for wrong in ({}, {"Authorization": "Bearer dev-token-0123456789abcdeX"}, {"Authorization": "Basic x"}):
            answer = httpx.post(
                f"{agent.url}/invocations", content=PAYLOAD, headers={**JSON, **wrong, SESSION_HEADER: SESSION}
            )
            assert answer.status_code == 401, answer.text
            assert one_line_error(answer).startswith("missing or wrong bearer token")
            assert "dev-token" not in answer.text
        assert nothing_reached(canary)
        # The same request with the token does start a job: the canary can see one.
        httpx.post(
            f"{agent.url}/invocations",
            content=PAYLOAD,
            headers={**JSON, **bearer(token_file), SESSION_HEADER: SESSION},
            timeout=30,
        )
        assert canary.connections > 0
    assert "dev-token" not in agent.log()


@pytest.mark.parametrize("host", ["localhost", "[::1]", "127.0.0.1", "dev.box"])
def test_this_machines_names_and_allowed_hosts_are_answered(tmp_path, token_file, host):
    args = ("--local-executor", "http://127.0.0.1:9", "--token-file", str(token_file), "--allow-host", "dev.box")
    with running_agent(tmp_path, *args) as agent:
        assert httpx.get(f"{agent.url}/ping", headers={"Host": f"{host}:{agent.port}"}).status_code == 200
        assert httpx.get(f"{agent.url}/ping", headers={"Host": f"{host}:1"}).status_code == 421  # not its port


def outcome(args: list[str], env: dict[str, str] | None = None, seconds: float = 60) -> tuple[str, int | None, str]:
    """Start ``deep-insight-agent ARGS``: ("exited", code, output) if it stops by itself, or ("serving",
    None, "") as soon as /ping answers (it is then stopped)."""
    port = str(free_port())
    process = subprocess.Popen(
        [str(AGENT_SCRIPT), "--port", port, *args],
        env=env or agent_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + seconds
    served = False
    try:
        while time.monotonic() < deadline and process.poll() is None and not served:
            try:
                served = httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1) is not None
            except httpx.TransportError:
                time.sleep(0.2)
    finally:
        if process.poll() is None:
            process.terminate()
        out, err = process.communicate(timeout=20)
    if served or process.returncode < 0:
        return "serving", None, ""
    return "exited", process.returncode, (out + err).strip()


def test_without_a_token_it_does_not_start():
    dev = ["--local-executor", "http://127.0.0.1:9"]
    assert outcome(dev) == (
        "exited",
        2,
        "deep-insight-agent: --local-executor needs a token that callers send as 'Authorization: Bearer <token>':"
        " give --token-file FILE (a file holding it), or --insecure-no-token to serve without one on loopback",
    )
    assert outcome([*dev, "--insecure-no-token", "--host", "0.0.0.0"]) == (
        "exited",
        2,
        "deep-insight-agent: --insecure-no-token serves anyone who can reach the port, so only on a loopback address"
        " (127.0.0.1, ::1, localhost), not 0.0.0.0; give --token-file FILE to listen there",
    )


def test_a_token_file_others_can_read_is_refused_and_a_missing_one_is_made_private(tmp_path, canary):
    shared = tmp_path / "shared-token"
    shared.write_text("dev-token-0123456789abcdef\n")
    shared.chmod(0o644)
    assert outcome(["--local-executor", canary.url, "--token-file", str(shared)]) == (
        "exited",
        2,
        f"deep-insight-agent: --token-file {shared} can be read by other users (mode 0644); chmod 600 {shared}",
    )
    made = tmp_path / "new-token"
    with running_agent(tmp_path, "--local-executor", canary.url, "--token-file", str(made)) as agent:
        assert made.stat().st_mode & 0o777 == 0o600
        token = made.read_text().strip()
        assert len(token) >= 32
        answer = httpx.post(
            f"{agent.url}/invocations",
            content=PAYLOAD,
            headers={**JSON, "Authorization": f"Bearer {token}", SESSION_HEADER: SESSION},
            timeout=30,
        )
        assert answer.status_code == 200
    assert token not in agent.log()


def aws_env() -> dict[str, str]:
    """Every setting the Pulumi program gives the runtime (values that make no AWS call at start-up)."""
    env = agent_env()
    for name in AgentEnv:
        env.setdefault(name.value, "1")
    env[AgentEnv.AGENT_MODELS.value] = "{}"
    env[AgentEnv.SESSION_TARGET_GROUP.value] = SessionTargetGroupTemplate(name_prefix="di-test-").to_json()
    return env


def test_in_aws_mode_the_dev_flags_are_refused_and_agentcores_requests_pass(tmp_path, token_file):
    assert outcome(["--token-file", str(token_file)], env=aws_env()) == (
        "exited",
        2,
        "deep-insight-agent: --token-file apply only with --local-executor URL (a server for development)",
    )
    with running_agent(tmp_path, env=aws_env()) as agent:
        # AgentCore's data plane authenticates the caller and forwards its request: the Host it chooses, the
        # caller's Content-Type (InvokeAgentRuntime's contentType) and, with OAuth, the caller's Authorization.
        answer = httpx.post(
            f"{agent.url}/invocations",
            content=json.dumps({"prompt": "q", "data": ["file:///etc/shadow"]}),
            headers={"Host": "runtime.internal", "Authorization": "Bearer caller-jwt", SESSION_HEADER: SESSION},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        (event,) = [json.loads(line[6:]) for line in answer.text.splitlines() if line.startswith("data: ")]
        assert event["type"] == "error"
        assert event["message"] == "data entry 'file:///etc/shadow' is not an s3://bucket/key URI"
