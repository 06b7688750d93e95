"""The whole job end to end with scripted models (only the LLM is replaced) against a real local
executor on the reference CSV: events per SPEC §7, citations that reference real calculations, and
two PDFs that carry the total and the Korean category names."""

from __future__ import annotations

import asyncio
import io
import json
import time
from contextlib import asynccontextmanager

import pandas as pd
import pytest
from deep_insight_agent.events import guarded, validate_stream
from deep_insight_agent.executor_local import LocalExecutorSession
from deep_insight_agent.executor_session import Notify
from deep_insight_agent.payload import Invocation
from deep_insight_agent.presign import s3_client as agent_s3_client
from deep_insight_agent.scripted import ScriptedModel, SilentOnce, ThrottledOnce
from deep_insight_agent.workflow import WorkflowDeps, run_job
from pypdf import PdfReader

from tests.runtimes.conftest import DATA, TOKEN, s3_client

BUCKET = "workflow-artifacts"
SID = "workflow-session-0123456789abcdef01234"

CODER = """
import json, pandas as pd, matplotlib.pyplot as plt
sales = pd.read_csv('data/fresh-food-sales.csv')
total = int(sales['금액'].sum())
by_category = sales.groupby('카테고리')['금액'].sum().sort_values(ascending=False)
metadata = [{"id": "calc-total-sales", "description": "sum of 금액", "value": total, "code": "sales['금액'].sum()"}]
metadata += [{"id": f"calc-category-{i}", "description": f"{c} 금액", "value": int(v), "code": "groupby"}
             for i, (c, v) in enumerate(by_category.items())]
json.dump(metadata, open('artifacts/calculation_metadata.json', 'w'), ensure_ascii=False)
open('artifacts/all_results.txt', 'w').write('\\n'.join(f"{m['id']}: {m['value']}" for m in metadata))
by_category.plot.bar().get_figure().savefig('artifacts/sales_by_category.png')
print(total)
"""

VALIDATOR = """
import json, pandas as pd
metadata = {m['id']: m for m in json.load(open('artifacts/calculation_metadata.json'))}
check = int(pd.read_csv('data/fresh-food-sales.csv')['금액'].sum())
assert check == metadata['calc-total-sales']['value']
json.dump([{"number": 1, "calculationId": "calc-total-sales", "value": f"{check:,}",
            "derivation": "sum of 금액 over all rows, recomputed"}],
          open('artifacts/citations.json', 'w'), ensure_ascii=False)
print('verified', check)
"""


def scripts(categories: list[str]) -> dict[str, list[dict]]:
    return {
        "planner": [{"text": "1. 총 매출 계산 2. 카테고리별 매출 3. 차트"}],
        "coder": [
            {"tools": [{"name": "python", "input": {"code": CODER}}]},
            {"text": "총 매출 157,685,452원을 계산했습니다."},
        ],
        "validator": [{"tools": [{"name": "python", "input": {"code": VALIDATOR}}]}, {"text": "검증 완료."}],
        "reporter": [
            {
                "tools": [
                    {
                        "name": "write_report",
                        "input": {
                            "title": "신선식품 매출 분석",
                            "sections": [
                                {
                                    "heading": "요약",
                                    "paragraphs": ["총 매출은 157,685,452원입니다 [1]."],
                                    "keyFigures": [{"label": "총 매출", "value": "157,685,452원 [1]"}],
                                },
                                {
                                    "heading": "카테고리",
                                    "paragraphs": [", ".join(categories)],
                                    "charts": [
                                        {"path": "artifacts/sales_by_category.png", "caption": "카테고리별 매출"}
                                    ],
                                },
                            ],
                        },
                    }
                ]
            },
            {"text": "보고서를 작성했습니다.", "usage": {"cacheReadInputTokens": 60, "cacheWriteInputTokens": 30}},
        ],
    }


@pytest.fixture(scope="module")
def s3(s3_endpoint):
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key=f"sessions/{SID}/input/fresh-food-sales.csv", Body=DATA.read_bytes())
    return client


@pytest.fixture(scope="module")
def executor_with_s3(start_executor, s3):
    return start_executor()  # no credentials: the agent sends presigned URLs


@pytest.fixture(scope="module")
def agent_s3(s3_endpoint):
    """The client the agent signs with (its role in AWS)."""
    return agent_s3_client("us-east-1", endpoint_url=s3_endpoint, aws_access_key_id="t", aws_secret_access_key="t")


def with_input(s3, session_id: str) -> tuple[str, ...]:
    """The data file in the session's own input folder (the only place the agent takes inputs from)."""
    key = f"sessions/{session_id}/input/fresh-food-sales.csv"
    s3.put_object(Bucket=BUCKET, Key=key, Body=DATA.read_bytes())
    return (f"s3://{BUCKET}/{key}",)


def run_workflow(executor, models, agent_s3, session_id: str = SID, **deps_options) -> list[dict]:
    @asynccontextmanager
    async def open_executor(session_id: str, report: Notify):
        async with LocalExecutorSession(executor.url, session_id, TOKEN) as session:
            yield session

    deps = WorkflowDeps(
        model_for=models.__getitem__, open_executor=open_executor, artifact_bucket=BUCKET, s3=agent_s3, **deps_options
    )
    invocation = Invocation(
        prompt="카테고리별 매출을 분석해줘",
        data=with_input(agent_s3, session_id),
        language="ko",
    )

    async def collect() -> list[dict]:
        return [event async for event in run_job(invocation, session_id, deps)]

    return asyncio.run(collect())


def test_throttling_and_a_silent_stream_are_retried_to_a_finished_job(executor_with_s3, agent_s3):
    categories = list(pd.read_csv(DATA)["카테고리"].unique())
    turns = scripts(categories)
    models = {
        "planner": ThrottledOnce(turns["planner"]),
        "coder": SilentOnce(turns["coder"], silence=30),
        "validator": ScriptedModel(turns["validator"]),
        "reporter": ScriptedModel(turns["reporter"]),
    }
    started = time.monotonic()
    events = run_workflow(executor_with_s3, models, agent_s3, stall_seconds=0.5, retry_base_delay=0.05)
    assert time.monotonic() - started < 25  # the 30 s silence was cut off, not waited out
    assert validate_stream(events) == []
    assert events[-1]["type"] == "complete"
    phases = [e["phase"] for e in events if e["type"] == "status"]
    assert any(p.startswith("model throttled; retrying in") for p in phases)
    assert "model stream silent for 0.5 s; cancelled and retrying" in phases


def test_a_job_runs_end_to_end(executor_with_s3, s3, agent_s3):
    categories = list(pd.read_csv(DATA)["카테고리"].unique())
    models = {name: ScriptedModel(turns) for name, turns in scripts(categories).items()}
    events = run_workflow(executor_with_s3, models, agent_s3)
    assert validate_stream(events) == []
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "complete"
    assert [e["agent"] for e in events if e["type"] == "agent" and e["state"] == "started"] == [
        "planner",
        "coder",
        "validator",
        "reporter",
    ]
    assert [e["tool"] for e in events if e["type"] == "tool"] == ["python", "python", "write_report"]
    assert all(e["status"] == "success" for e in events if e["type"] == "tool_result")
    complete = events[-1]
    # Seven turns of 100 in / 20 out (ScriptedModel), the reporter's second one with a cache read and write.
    turn, cached = {"inputTokens": 100, "outputTokens": 20}, {"cacheReadInputTokens": 0, "cacheWriteInputTokens": 0}
    assert complete["usage"]["byAgent"] == {
        "planner": {"inputTokens": 100, "outputTokens": 20, **cached},
        "coder": {"inputTokens": 200, "outputTokens": 40, **cached},
        "validator": {"inputTokens": 200, "outputTokens": 40, **cached},
        "reporter": {"inputTokens": 200, "outputTokens": 40, "cacheReadInputTokens": 60, "cacheWriteInputTokens": 30},
    }
    assert {k: v for k, v in complete["usage"].items() if k != "byAgent"} == {
        "inputTokens": 7 * turn["inputTokens"],
        "outputTokens": 7 * turn["outputTokens"],
        "cacheReadInputTokens": 60,
        "cacheWriteInputTokens": 30,
    }
    names = {a["name"] for a in complete["artifacts"]}
    assert names >= {"all_results.txt", "calculation_metadata.json", "citations.json", "final_report.pdf",
                     "final_report_with_citations.pdf", "sales_by_category.png"}  # fmt: skip
    assert not any(e["type"] == "status" and e["phase"].startswith("missing") for e in events)

    def fetch(name: str) -> bytes:
        return s3.get_object(Bucket=BUCKET, Key=f"sessions/{SID}/artifacts/{name}")["Body"].read()

    metadata = {m["id"] for m in json.loads(fetch("calculation_metadata.json"))}
    citations = json.loads(fetch("citations.json"))
    assert citations
    assert all(c["calculationId"] in metadata for c in citations)
    for name in ("final_report.pdf", "final_report_with_citations.pdf"):
        text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(fetch(name))).pages)
        assert "157,685,452" in text
        assert all(category in text for category in categories)
    assert "[1]" in "".join(
        p.extract_text() for p in PdfReader(io.BytesIO(fetch("final_report_with_citations.pdf"))).pages
    )
    (audited,) = [e for e in events if e["type"] == "audit"]
    assert (audited["attempt"], audited["passed"], audited["defects"]) == (1, True, [])
    assert json.loads(fetch("audit.json"))["passed"] is True
    # The coder's model saw the planner's plan in its task.
    assert "planner said" in json.dumps(models["coder"].requests[0], ensure_ascii=False)


def test_two_concurrent_jobs_stay_apart(executor_with_s3, s3, agent_s3):
    categories = list(pd.read_csv(DATA)["카테고리"].unique())
    sessions = ("concurrent-a-0123456789abcdef0123456789", "concurrent-b-0123456789abcdef0123456789")

    @asynccontextmanager
    async def open_executor(session_id: str, report: Notify):
        async with LocalExecutorSession(executor_with_s3.url, session_id, TOKEN) as session:
            yield session

    async def job(session_id: str) -> list[dict]:
        models = {name: ScriptedModel(turns) for name, turns in scripts(categories).items()}
        deps = WorkflowDeps(
            model_for=models.__getitem__, open_executor=open_executor, artifact_bucket=BUCKET, s3=agent_s3
        )
        invocation = Invocation(prompt="매출", data=with_input(agent_s3, session_id), language="ko")
        return [event async for event in run_job(invocation, session_id, deps)]

    async def both() -> list[list[dict]]:
        return list(await asyncio.gather(*(job(sid) for sid in sessions)))

    for session_id, events in zip(sessions, asyncio.run(both()), strict=True):
        assert validate_stream(events) == []
        assert {e["sessionId"] for e in events} == {session_id}
        assert events[-1]["type"] == "complete"
        uris = [a["s3Uri"] for a in events[-1]["artifacts"]]
        assert uris
        assert all(f"/sessions/{session_id}/artifacts/" in uri for uri in uris)
        keys = [
            o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"sessions/{session_id}/artifacts/")["Contents"]
        ]
        assert len(keys) == len(uris)


def test_a_failed_job_still_uploads_what_it_produced(executor_with_s3, s3, agent_s3):
    categories = list(pd.read_csv(DATA)["카테고리"].unique())
    turns = scripts(categories)
    session_id = "failing-job-0123456789abcdef0123456789"
    models = {
        "planner": ScriptedModel(turns["planner"]),
        "coder": ScriptedModel(turns["coder"]),
        "validator": ScriptedModel([]),  # the model has nothing to say: the job fails here
        "reporter": ScriptedModel(turns["reporter"]),
    }
    with pytest.raises(AssertionError, match="no turn left"):
        run_workflow(executor_with_s3, models, agent_s3, session_id=session_id)
    keys = {
        o["Key"].rsplit("/", 1)[-1]
        for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"sessions/{session_id}/artifacts/")["Contents"]
    }
    assert {"all_results.txt", "calculation_metadata.json", "sales_by_category.png"} <= keys
    assert "final_report.pdf" not in keys


def _report_turns(total: str) -> list[dict]:
    """One reporter turn that writes a report citing ``total`` as [1], and its closing text."""
    section = {"heading": "요약", "paragraphs": [f"총 매출은 {total}원입니다 [1]."]}
    return [
        {"tools": [{"name": "write_report", "input": {"title": "신선식품 매출 분석", "sections": [section]}}]},
        {"text": "보고서를 작성했습니다."},
    ]


def _pdf_text(s3, session_id: str, name: str) -> str:
    body = s3.get_object(Bucket=BUCKET, Key=f"sessions/{session_id}/artifacts/{name}")["Body"].read()
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


@pytest.mark.parametrize("corrected", [True, False], ids=["corrected-on-retry", "published-unaudited"])
def test_a_wrong_cited_figure_goes_back_to_the_reporter_once(executor_with_s3, s3, agent_s3, corrected):
    categories = list(pd.read_csv(DATA)["카테고리"].unique())
    turns = scripts(categories)
    second = "157,685,452" if corrected else "158,000,000"
    turns["reporter"] = _report_turns("158,000,000") + _report_turns(second)
    session_id = f"audit-{'fixed' if corrected else 'unfixed'}-0123456789abcdef0123456789"
    models = {name: ScriptedModel(script) for name, script in turns.items()}
    events = run_workflow(executor_with_s3, models, agent_s3, session_id=session_id)
    assert validate_stream(events) == []
    assert events[-1]["type"] == "complete"  # never a failed job, never silent
    audits = [e for e in events if e["type"] == "audit"]
    assert [(a["attempt"], a["passed"]) for a in audits] == [(1, False), (2, corrected)]
    assert audits[0]["defects"] == [
        "sections[0].paragraphs[0]: 158,000,000 [1] does not state the cited value 157,685,452"
    ]
    reporters = [e for e in events if e["type"] == "agent" and e["agent"] == "reporter" and e["state"] == "started"]
    assert len(reporters) == 2  # one retry, bounded
    retry_prompt = json.dumps(models["reporter"].requests[-2], ensure_ascii=False)
    assert "158,000,000 [1] does not state the cited value" in retry_prompt  # the findings went back
    for name in ("final_report.pdf", "final_report_with_citations.pdf"):
        text = _pdf_text(s3, session_id, name)
        assert ("Unaudited" in text) is not corrected
        assert second in text  # what the reporter's last call wrote is what is published


def test_a_validator_disagreement_sends_the_coder_back_once(executor_with_s3, s3, agent_s3):
    categories = list(pd.read_csv(DATA)["카테고리"].unique())
    turns = scripts(categories)
    wrong = CODER.replace("total = int(sales['금액'].sum())", "total = int(sales['금액'].sum()) + 1000")
    check = (
        "import json, pandas as pd\n"
        "recorded = {m['id']: m['value'] for m in json.load(open('artifacts/calculation_metadata.json'))}\n"
        "print(recorded['calc-total-sales'], int(pd.read_csv('data/fresh-food-sales.csv')['금액'].sum()))\n"
    )
    discrepancy = {"calculationId": "calc-total-sales", "recorded": "157686452", "recomputed": "157685452",
                   "note": "sum of 금액 differs by 1,000"}  # fmt: skip
    turns["coder"] = [{"tools": [{"name": "python", "input": {"code": wrong}}]}, {"text": "계산했습니다."}] + turns[
        "coder"
    ]
    turns["validator"] = [
        {"tools": [{"name": "python", "input": {"code": check}}]},
        {"tools": [{"name": "send_back", "input": {"discrepancies": [discrepancy]}}]},
        {"text": "총 매출이 다릅니다."},
        *turns["validator"],
    ]
    session_id = "review-round-0123456789abcdef0123456789"
    models = {name: ScriptedModel(script) for name, script in turns.items()}
    events = run_workflow(executor_with_s3, models, agent_s3, session_id=session_id)
    assert validate_stream(events) == []
    assert events[-1]["type"] == "complete"
    started = [e["agent"] for e in events if e["type"] == "agent" and e["state"] == "started"]
    assert started == ["planner", "coder", "validator", "coder", "validator", "reporter"]
    phases = [e["phase"] for e in events if e["type"] == "status"]
    assert "validator sent 1 discrepancy(ies) back to the coder" in phases
    fix_prompt = json.dumps(models["coder"].requests[2], ensure_ascii=False)  # the coder's second run
    assert "calc-total-sales: recorded '157686452', recomputed '157685452'" in fix_prompt
    (audited,) = [e for e in events if e["type"] == "audit"]
    assert audited["passed"], audited
    body = s3.get_object(Bucket=BUCKET, Key=f"sessions/{session_id}/artifacts/calculation_metadata.json")["Body"]
    recorded = {m["id"]: m["value"] for m in json.loads(body.read())}
    assert recorded["calc-total-sales"] == 157685452  # fixed by the coder's second run


def _reviewed_job(executor, agent_s3, session_id: str, decide, **review) -> tuple[list[dict], dict]:
    """Run the reference job with planReview; ``decide(event)`` answers the plan_review event (or not)."""
    categories = list(pd.read_csv(DATA)["카테고리"].unique())
    models = {name: ScriptedModel(turns) for name, turns in scripts(categories).items()}

    @asynccontextmanager
    async def open_executor(sid: str, report: Notify):
        async with LocalExecutorSession(executor.url, sid, TOKEN) as session:
            yield session

    deps = WorkflowDeps(
        model_for=models.__getitem__, open_executor=open_executor, artifact_bucket=BUCKET, s3=agent_s3,
        review_poll_seconds=0.05,
    )  # fmt: skip
    invocation = Invocation(
        prompt="카테고리별 매출을 분석해줘", data=with_input(agent_s3, session_id), language="ko", plan_review=True,
        **review,
    )  # fmt: skip

    async def collect() -> list[dict]:
        events = []
        async for event in guarded(run_job(invocation, session_id, deps), session_id):
            events.append(event)
            if event["type"] == "plan_review":
                await asyncio.to_thread(decide, event)
        return events

    return asyncio.run(collect()), models


def _put_decision(s3, event: dict, decision: dict) -> None:
    bucket, key = event["decisionUri"].removeprefix("s3://").split("/", 1)
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(decision, ensure_ascii=False).encode())


def test_plan_review_approved(executor_with_s3, s3, agent_s3):
    session_id = "review-approve-0123456789abcdef0123456789"
    events, _ = _reviewed_job(
        executor_with_s3, agent_s3, session_id, lambda e: _put_decision(s3, e, {"action": "approve"})
    )
    assert validate_stream(events) == []
    (review,) = [e for e in events if e["type"] == "plan_review"]
    assert review["plan"] == "1. 총 매출 계산 2. 카테고리별 매출 3. 차트"  # the planner's text
    assert review["decisionUri"] == f"s3://{BUCKET}/sessions/{session_id}/review/decision.json"
    assert (review["timeoutSeconds"], review["onTimeout"]) == (600, "proceed")
    kinds = [(e["type"], e.get("agent") or e.get("phase")) for e in events]
    assert (
        kinds.index(("plan_review", None)) < kinds.index(("status", "plan approved")) < kinds.index(("agent", "coder"))
    )
    assert events[-1]["type"] == "complete"
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"sessions/{session_id}/review/")  # read, removed


def test_plan_review_revised_plan_is_what_the_coder_follows(executor_with_s3, s3, agent_s3):
    session_id = "review-revise-0123456789abcdef01234567890"
    revised = {"action": "revise", "plan": "1. 총 매출만 계산하고 차트는 그리지 마세요"}
    events, models = _reviewed_job(executor_with_s3, agent_s3, session_id, lambda e: _put_decision(s3, e, revised))
    assert "plan revised by a person" in [e["phase"] for e in events if e["type"] == "status"]
    task = json.dumps(models["coder"].requests[0], ensure_ascii=False)
    assert "revised by a person; follow this plan" in task
    assert revised["plan"] in task
    assert "1. 총 매출 계산 2. 카테고리별 매출 3. 차트" not in task  # the planner's own plan was replaced


@pytest.mark.parametrize("on_timeout", ["proceed", "cancel"])
def test_plan_review_nobody_answers(executor_with_s3, agent_s3, on_timeout):
    session_id = f"review-timeout-{on_timeout}-0123456789abcdef01234567"
    events, _ = _reviewed_job(
        executor_with_s3, agent_s3, session_id, lambda e: None,
        plan_review_timeout_seconds=1, plan_review_on_timeout=on_timeout,
    )  # fmt: skip
    assert validate_stream(events) == []
    started = [e["agent"] for e in events if e["type"] == "agent" and e["state"] == "started"]
    if on_timeout == "proceed":
        assert "plan review timed out after 1 s; proceeding with the plan" in [
            e["phase"] for e in events if e["type"] == "status"
        ]
        assert events[-1]["type"] == "complete"
        assert started == ["planner", "coder", "validator", "reporter"]
    else:
        assert events[-1]["type"] == "error"
        assert events[-1]["message"] == "nobody decided on the plan within 1 s; the job was cancelled"
        assert started == ["planner"]
