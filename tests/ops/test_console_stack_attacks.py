"""The console against a deployed stack whose job writes hostile artifact names: the runtime announces every
file of ``artifacts/`` by the name the model's code gave it, and the console downloads each into the job's
folder, beside its own records (``job.json``: what was asked; ``events.jsonl``: the timeline). The real
agent app and workflow (scripted models) behind AgentCore's data-plane path on 127.0.0.1, moto's S3, and
``deep-insight console --stack`` as a person starts it (tests/ops/test_console_stack.py has the set-up)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pandas as pd
import pytest
from deep_insight_agent.app import create_app
from deep_insight_agent.executor_local import LocalExecutorSession
from deep_insight_agent.executor_session import Notify
from deep_insight_agent.payload import Invocation
from deep_insight_agent.presign import s3_client as agent_s3_client
from deep_insight_agent.scripted import ScriptedModel
from deep_insight_agent.workflow import WorkflowDeps, run_job

from tests.ops.local_agentcore import AgentCoreDataPlane, serve
from tests.ops.test_console import QUESTION, TOKEN, Console
from tests.ops.test_invoke import BUCKET, REGION, RUNTIME_ARN, executor, stack_outputs  # noqa: F401 (fixture)
from tests.runtimes.agent.test_workflow import CODER, scripts
from tests.runtimes.conftest import DATA, s3_client
from tests.runtimes.conftest import TOKEN as EXECUTOR_TOKEN

FORGED_QUESTION = "FORGED: the model wrote this question"
FORGED_EVENT = {"type": "text", "agent": "coder", "text": "FORGED timeline line"}
HOSTILE = f"""
import json
json.dump({{"sessionId": "x", "question": {FORGED_QUESTION!r}, "data": []}}, open('artifacts/job.json', 'w'))
open('artifacts/events.jsonl', 'w').write(json.dumps({FORGED_EVENT!r}) + '\\n')
"""


def events(lines: list[str]) -> list[dict[str, Any]]:
    parsed = [json.loads(line.removeprefix("data: ")) for line in lines]
    return [event for event in parsed if event["type"] != "keepalive"]


@pytest.fixture(scope="module")
def hostile_agentcore(executor, moto_endpoint) -> Iterator[str]:  # noqa: F811
    """The agent app with the real workflow, whose coder also writes ``job.json`` and ``events.jsonl``."""
    turns = scripts(list(pd.read_csv(DATA)["카테고리"].unique()))
    turns["coder"][0]["tools"][0]["input"]["code"] = CODER + HOSTILE
    agent_s3 = agent_s3_client(
        REGION, endpoint_url=moto_endpoint, aws_access_key_id="testing", aws_secret_access_key="testing"
    )

    @asynccontextmanager
    async def open_executor(session_id: str, report: Notify):
        async with LocalExecutorSession(executor.url, session_id, EXECUTOR_TOKEN) as session:
            yield session

    async def job(invocation: Invocation, session_id: str) -> AsyncIterator[dict[str, Any]]:
        models = {name: ScriptedModel(agent_turns) for name, agent_turns in turns.items()}
        deps = WorkflowDeps(
            model_for=models.__getitem__, open_executor=open_executor, artifact_bucket=BUCKET, s3=agent_s3
        )
        async for event in run_job(invocation, session_id, deps):
            yield event

    with serve(AgentCoreDataPlane(create_app(job, artifact_bucket=BUCKET), RUNTIME_ARN)) as url:
        yield url


def test_artifacts_named_like_the_consoles_records_do_not_replace_them(hostile_agentcore, aws, tmp_path):
    s3_client(aws).create_bucket(Bucket=BUCKET)
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(stack_outputs()), encoding="utf-8")
    env = {
        "AWS_ENDPOINT_URL": aws, "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE": hostile_agentcore,
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
    }  # fmt: skip
    runs = tmp_path / "runs"
    console = Console(runs, None, stack=outputs, env=env)
    try:
        with httpx.Client(base_url=console.url, params={"token": TOKEN}, timeout=60) as client:
            staged = client.put(f"/api/uploads/{DATA.name}", content=DATA.read_bytes()).json()
            started = client.post("/api/jobs", json={"question": QUESTION, "uploads": [staged["id"]]})
            session_id = started.json()["sessionId"]
            with client.stream("GET", f"/api/jobs/{session_id}/events", timeout=300) as stream:
                lines = [line for line in stream.iter_lines() if line.startswith("data: ")]
        assert json.loads(lines[-1].removeprefix("data: "))["type"] == "complete"
    finally:
        console.stop()
    again = Console(runs, None, stack=outputs, env=env)  # what a restarted console shows of the job
    try:
        with httpx.Client(base_url=again.url, params={"token": TOKEN}, timeout=60) as client:
            (listed,) = [job for job in client.get("/api/jobs").json()["jobs"] if job["sessionId"] == session_id]
            shown = client.get(f"/api/jobs/{session_id}").json()  # the job page's heading
            with client.stream("GET", f"/api/jobs/{session_id}/events") as stream:
                timeline = [line for line in stream.iter_lines() if line.startswith("data: ")]
    finally:
        again.stop()
    assert listed["question"] == QUESTION
    assert shown["question"] == QUESTION
    assert FORGED_EVENT not in events(timeline)
    assert events(timeline) == events(lines)  # after a restart, the timeline that was seen live
