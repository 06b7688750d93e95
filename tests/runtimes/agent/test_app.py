"""The AgentCore HTTP contract of the agent app, served by uvicorn on 127.0.0.1 with a scripted job."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import uvicorn
from deep_insight_agent.app import create_app
from deep_insight_agent.events import make_event, validate_stream
from deep_insight_agent.payload import Invocation

HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
BUCKET = "artifacts-bucket"


STARTED: list[str] = []  # the session id of every job started


async def scripted_job(invocation: Invocation, session_id: str) -> AsyncIterator[dict]:
    """Stands in for the multi-agent workflow (not the subject here): echoes what it was given."""
    STARTED.append(session_id)
    yield make_event("status", session_id, phase="started")
    seconds = 1.0 if "slow" in invocation.prompt else 0.0
    await asyncio.sleep(seconds)
    yield make_event("text", session_id, agent="planner", text=f"{invocation.language}:{invocation.prompt}")
    if "fail" in invocation.prompt:
        raise RuntimeError("the model refused")
    yield make_event(
        "complete", session_id, artifacts=[], durationSeconds=seconds, usage={"inputTokens": 1, "outputTokens": 1}
    )


@pytest.fixture(scope="module")
def agent() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(scripted_job, artifact_bucket=BUCKET, keepalive_after=0.3),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/ping", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    yield url
    server.should_exit = True
    thread.join(10)


def invoke(url: str, payload, session: str = "s" * 40) -> list[dict]:
    with httpx.stream("POST", f"{url}/invocations", json=payload, headers={HEADER: session}, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]


def test_ping_reports_health_with_a_timestamp(agent):
    ping = httpx.get(f"{agent}/ping").json()
    assert ping["status"] == "Healthy"
    assert abs(ping["time_of_last_update"] - time.time()) < 3600


def test_a_job_streams_valid_events(agent):
    events = invoke(agent, {"prompt": "카테고리별 매출"})
    assert [e["type"] for e in events] == ["status", "text", "complete"]
    assert events[1]["text"] == "ko:카테고리별 매출"
    assert validate_stream(events) == []


def test_ping_is_busy_while_a_job_runs(agent):
    seen: list[str] = []
    runner = threading.Thread(target=invoke, args=(agent, {"prompt": "slow please"}))
    runner.start()
    time.sleep(0.5)
    seen.append(httpx.get(f"{agent}/ping").json()["status"])
    runner.join(10)
    seen.append(httpx.get(f"{agent}/ping").json()["status"])
    assert seen == ["HealthyBusy", "Healthy"]


def test_silence_gets_keepalives_and_failures_one_error(agent):
    slow = invoke(agent, {"prompt": "slow"})
    assert "keepalive" in [e["type"] for e in slow]
    assert validate_stream(slow) == []
    failed = invoke(agent, {"prompt": "fail"})
    assert [e["type"] for e in failed][-1] == "error"
    assert failed[-1]["message"] == "the model refused"
    assert validate_stream(failed) == []


@pytest.mark.parametrize(
    ("payload", "session", "message"),
    [
        ({}, "s" * 40, "prompt is required"),
        ({"prompt": "q", "data": ["s3://elsewhere/x.csv"]}, "s" * 40, "outside the artifacts bucket"),
        ({"prompt": "q"}, "too-short", "is not accepted; use 1-256 characters"),
        ({"prompt": "q"}, "wildcard-*-" + "x" * 40, "at least 33 characters"),
        ({"prompt": "q"}, "x" * 257, "is not accepted"),
    ],
)
def test_bad_payloads_end_in_one_error_event(agent, payload, session, message):
    STARTED.clear()
    events = invoke(agent, payload, session)
    assert STARTED == []  # refused before the job (and any AWS call) started
    assert len(events) == 1
    assert events[0]["type"] == "error"
    assert message in events[0]["message"]
    assert events[0]["retryable"] is False


def test_concurrent_invocations_stay_apart(agent):
    results: dict[str, list[dict]] = {}

    def run(tag: str) -> None:
        results[tag] = invoke(agent, {"prompt": f"slow {tag}"}, session=tag * 40)

    threads = [threading.Thread(target=run, args=(tag,)) for tag in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    for tag, events in results.items():
        assert {e["sessionId"] for e in events} == {tag * 40}
        assert [e["text"] for e in events if e["type"] == "text"] == [f"en:slow {tag}"]
        assert validate_stream(events) == []


def test_a_non_ascii_session_id_is_one_error_event(agent):
    STARTED.clear()
    session = "세션-" + "x" * 40
    with httpx.stream(
        "POST", f"{agent}/invocations", json={"prompt": "q"}, headers={HEADER: session.encode()}, timeout=30
    ) as response:
        events = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]
    assert [e["type"] for e in events] == ["error"]
    assert "is not accepted; use 1-256 characters" in events[0]["message"]
    assert STARTED == []


def test_case_twins_and_long_ids_are_sessions_of_their_own(agent):
    for session in ("Session-ABC-" + "x" * 30, "session-abc-" + "x" * 30, "long-" + "y" * 195):
        events = invoke(agent, {"prompt": "q"}, session=session)
        assert events[-1]["type"] == "complete"
        assert {e["sessionId"] for e in events} == {session}


def test_a_second_job_of_a_running_session_is_refused(agent):
    results: dict[str, list[dict]] = {}
    first = threading.Thread(target=lambda: results.update(first=invoke(agent, {"prompt": "slow"}, session="c" * 40)))
    first.start()
    time.sleep(0.5)
    results["second"] = invoke(agent, {"prompt": "q"}, session="c" * 40)
    first.join(20)
    assert results["first"][-1]["type"] == "complete"
    (refused,) = results["second"]
    assert (refused["type"], refused["retryable"]) == ("error", True)
    assert refused["message"].startswith("a job of this session is already running")
    assert invoke(agent, {"prompt": "q"}, session="c" * 40)[-1]["type"] == "complete"  # once it has ended


def test_each_agent_gets_the_model_agent_models_names(monkeypatch):
    from deep_insight_agent.__main__ import build_deps  # noqa: PLC0415
    from deep_insight_agent.config import ConfigError  # noqa: PLC0415

    default, haiku = "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("DEEP_INSIGHT_MODEL_ID", default)
    monkeypatch.setenv("DEEP_INSIGHT_AGENT_MODELS", json.dumps({"planner": haiku, "validator": haiku}))
    deps = build_deps("http://127.0.0.1:9", None)
    chosen = {name: deps.model_for(name).config["model_id"] for name in ("planner", "coder", "validator", "reporter")}
    assert chosen == {"planner": haiku, "coder": default, "validator": haiku, "reporter": default}
    monkeypatch.setenv("DEEP_INSIGHT_AGENT_MODELS", json.dumps({"summarizer": haiku}))
    with pytest.raises(ConfigError, match=r"names no agent \['summarizer'\]; the agents are planner, coder"):
        build_deps("http://127.0.0.1:9", None)
    monkeypatch.setenv("DEEP_INSIGHT_AGENT_MODELS", "")
    assert build_deps("http://127.0.0.1:9", None).model_for("planner").config["model_id"] == default
