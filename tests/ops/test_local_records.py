"""A local job's folder holds the model's artifacts beside the job's own records: what was asked (job.json),
the events the person saw (events.jsonl) and plan decisions (.review/). The model's code names its artifacts,
so it could name them after those records and rewrite the job's history, or approve its own plan. Against a
real local executor: the records after the copy are the ones the job wrote."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from pathlib import Path

import httpx
import pytest
from deep_insight_agent.executor_local import LocalExecutorSession
from deep_insight_contract.environment import ExecutorEnv

from ops.local.executor_process import LOCAL_RUNS, local_executor
from ops.local.job import EVENTS_FILE, JOB_FILE, REVIEW_FOLDER, copy_artifacts

FORGE = """
import json, os
os.makedirs('artifacts/.review/s', exist_ok=True)
open('artifacts/job.json', 'w').write(json.dumps({'question': 'FORGED'}))
open('artifacts/events.jsonl', 'w').write(json.dumps({'type': 'complete', 'forged': True}) + '\\n')
open('artifacts/.review/s/decision.json', 'w').write(json.dumps({'decision': 'approve'}))
open('artifacts/chart.png', 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n')
"""


def test_artifacts_named_after_the_jobs_records_do_not_replace_them(monkeypatch):
    monkeypatch.setenv(ExecutorEnv.SANDBOX, "none")  # what is copied, not where the code ran, is under test
    folder = Path(tempfile.mkdtemp(prefix="deep-insight-run-test-", dir=LOCAL_RUNS))
    target = folder / "job"
    target.mkdir()
    asked = {"question": "카테고리별 매출은?"}
    (target / JOB_FILE).write_text(json.dumps(asked))
    (target / EVENTS_FILE).write_text('{"type": "status"}\n')
    try:
        with local_executor(folder, "records-test") as running:
            headers = {"Authorization": f"Bearer {running.token}"}
            with httpx.Client(base_url=running.url, headers=headers, timeout=60) as client:
                ran = client.post("/v1/sessions/records-test/execute", json={"code": FORGE}).json()
            assert ran["status"] == "ok", ran

            async def copy() -> list[Path]:
                copied: list[Path] = []
                async with LocalExecutorSession(running.url, "records-test", running.token) as session:
                    await copy_artifacts(session, target, copied)
                return copied

            copied = asyncio.run(copy())
        assert json.loads((target / JOB_FILE).read_text()) == asked
        assert (target / EVENTS_FILE).read_text() == '{"type": "status"}\n'
        assert not (target / REVIEW_FOLDER).exists()
        assert copied == [target / "chart.png"]  # the model's own artifacts still arrive
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("name", ["job.json", "events.jsonl", ".review/s/decision.json", ".hidden"])
def test_record_names_are_not_artifact_names(name):
    from ops.local.job import is_artifact_name  # noqa: PLC0415

    assert not is_artifact_name(name)
    assert is_artifact_name("charts/job.json")  # a record's name deeper down is only a file
