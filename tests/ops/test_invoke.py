"""``deep-insight invoke`` end to end, and its pure parts.

End to end: the real agent app (the planner/coder/validator/reporter workflow; scripted models replace
only the LLM) with a real local executor, behind AgentCore's data-plane path (tests/ops/local_agentcore.py)
on 127.0.0.1, and moto's S3 on 127.0.0.1. boto3 reaches them through AWS_ENDPOINT_URL_BEDROCK_AGENTCORE and
AWS_ENDPOINT_URL: the command runs unchanged.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
import urllib3.exceptions
from deep_insight_agent.app import create_app
from deep_insight_agent.events import make_event, validate_stream
from deep_insight_agent.executor_local import LocalExecutorSession
from deep_insight_agent.executor_session import Notify
from deep_insight_agent.payload import Invocation
from deep_insight_agent.presign import s3_client as agent_s3_client
from deep_insight_agent.scripted import ScriptedModel
from deep_insight_agent.workflow import WorkflowDeps, run_job
from deep_insight_contract.outputs import OUTPUT_NAMES
from deep_insight_contract.session import is_session_id
from pypdf import PdfReader
from rich.console import Console
from rich.text import Text
from typer.testing import CliRunner

from components.agent_runtime import ENDPOINT_NAME
from ops.cli import app
from ops.invoke import job
from ops.invoke import text as invoke_text
from ops.invoke.sse import SseParser, StreamBrokenError, read_chunks, stream_events
from ops.invoke.view import JobView
from tests.ops.local_agentcore import AgentCoreDataPlane, serve
from tests.runtimes.agent.test_workflow import scripts  # the reference job's scripted turns
from tests.runtimes.conftest import DATA, TOKEN, s3_client

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "deep-insight-dev-artifacts-7f3a9c1e"
RUNTIME_ID = "deep_insight_dev-Xa1b2C3d4E"
RUNTIME_ARN = f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:runtime/{RUNTIME_ID}"
QUESTION = "카테고리별 매출을 분석해줘"
TOTAL = 157_685_452
SESSION_LINE = re.compile(r"^Session (\S+) ·", re.MULTILINE)


def stack_outputs() -> dict[str, Any]:
    """Every SPEC §5 output, shaped like `pulumi stack output --json` of a dev stack."""
    subnets = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
    cluster = "deep-insight-dev-cluster"
    outputs = {
        "region": REGION,
        "vpcId": "vpc-0123456789abcdef0",
        "availabilityZoneIds": ["use1-az1", "use1-az2"],
        "privateSubnetIds": subnets,
        "agentSubnetIds": subnets,
        "securityGroupIds": {
            "agent": "sg-0000000000000a001",
            "alb": "sg-0000000000000a002",
            "executor": "sg-0000000000000a003",
            "endpoints": "sg-0000000000000a004",
        },
        "endpointIds": {"s3": "vpce-0000000000000b001", "ecr.api": "vpce-0000000000000b002"},
        "albArn": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/di-dev/0123456789abcdef",
        "albDnsName": "internal-di-dev-123456789.us-east-1.elb.amazonaws.com",
        "listenerArn": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:listener/app/di-dev/0123456789abcdef/fedcba9876543210",
        "clusterName": cluster,
        "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{cluster}",
        "executorTaskDefinitionArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/deep-insight-dev-executor:3",
        "executorTaskFamily": "deep-insight-dev-executor",
        "executorContainerName": "executor",
        "executorLogGroup": "/deep-insight/dev/executor",
        "artifactBucket": BUCKET,
        "executorImageUri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/deep-insight-dev-executor@sha256:{'a' * 64}",
        "agentImageUri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/deep-insight-dev-agent@sha256:{'b' * 64}",
        "agentRuntimeArn": RUNTIME_ARN,
        "agentRuntimeId": RUNTIME_ID,
        "agentRuntimeEndpointArn": f"{RUNTIME_ARN}/runtime-endpoint/live",
        "agentRoleArn": f"arn:aws:iam::{ACCOUNT}:role/deep-insight-dev-agent",
        "agentLogGroup": f"/aws/bedrock-agentcore/runtimes/{RUNTIME_ID}-live",
        "analystPolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/deep-insight-dev-analyst-20260101000000000000000001",
    }
    assert set(outputs) == set(OUTPUT_NAMES)
    return outputs


# --- the local stack ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def executor(start_executor):
    return start_executor()  # no credentials: the agent sends presigned URLs


@pytest.fixture(scope="module")
def agentcore(executor, moto_endpoint) -> Iterator[tuple[AgentCoreDataPlane, str]]:
    """The agent app with the real workflow behind the data-plane path. A question with "fail" in it gets a
    validator whose model has nothing to say: the job fails after the coder has produced files."""
    categories = list(pd.read_csv(DATA)["카테고리"].unique())
    agent_s3 = agent_s3_client(
        REGION, endpoint_url=moto_endpoint, aws_access_key_id="testing", aws_secret_access_key="testing"
    )  # the client the agent signs the executor's URLs with

    @asynccontextmanager
    async def open_executor(session_id: str, report: Notify):
        async with LocalExecutorSession(executor.url, session_id, TOKEN) as session:
            yield session

    async def job(invocation: Invocation, session_id: str) -> AsyncIterator[dict[str, Any]]:
        turns = scripts(categories)
        if "fail" in invocation.prompt:
            turns["validator"] = []
        models = {name: ScriptedModel(agent_turns) for name, agent_turns in turns.items()}
        deps = WorkflowDeps(
            model_for=models.__getitem__, open_executor=open_executor, artifact_bucket=BUCKET, s3=agent_s3
        )
        async for event in run_job(invocation, session_id, deps):
            yield event

    # Keepalives after 0.3 s of silence, so the executor's slower calls put some in the stream.
    plane = AgentCoreDataPlane(create_app(job, artifact_bucket=BUCKET, keepalive_after=0.3), RUNTIME_ARN)
    with serve(plane) as url:
        yield plane, url


@pytest.fixture
def s3(aws, agentcore, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE", agentcore[1])
    client = s3_client(aws)
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def outputs_file(tmp_path: Path) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(stack_outputs()), encoding="utf-8")
    return path


def cli(*args: str | Path) -> Any:
    return CliRunner().invoke(app, ["invoke", *map(str, args)])


def keys(s3, prefix: str = "") -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


# --- end to end --------------------------------------------------------------------------------------------


def test_a_question_runs_end_to_end(s3, agentcore, outputs_file, tmp_path, monkeypatch):
    plane, _ = agentcore
    seen: list[dict[str, Any]] = []
    original = job.stream_events

    def recorded(*args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        for event in original(*args, **kwargs):
            seen.append(event)
            yield event

    monkeypatch.setattr(job, "stream_events", recorded)
    out = tmp_path / "out"
    result = cli("--stack", "dev", QUESTION, "--data", DATA, "--download", out, "--outputs", outputs_file)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    session_id = SESSION_LINE.search(result.stdout).group(1)  # type: ignore[union-attr]
    assert len(session_id) in range(33, 257)

    input_key = f"sessions/{session_id}/input/{DATA.name}"
    assert s3.get_object(Bucket=BUCKET, Key=input_key)["Body"].read() == DATA.read_bytes()
    (call,) = plane.invocations
    assert call.qualifier == "live"
    assert call.session_id == session_id
    assert call.payload == {"prompt": QUESTION, "data": [f"s3://{BUCKET}/{input_key}"]}

    assert validate_stream(seen) == []
    lines = result.stdout.splitlines()
    # Keepalives (the executor's slower calls leave gaps) keep the stream alive without printing a line.
    assert "keepalive" in {event["type"] for event in seen}
    assert len([line for line in lines if line.startswith("[")]) < len(seen)
    for expected in (
        "· executor ready",
        "· 1 input file(s) in data/",
        "▶ planner started",
        "  planner: 1. 총 매출 계산",
        "  coder → python (",
        "✓ coder finished in",
        "▶ validator started",
        "  reporter → write_report: 신선식품 매출 분석",
        "✓ audit passed (attempt 1",
        "artifact final_report_with_citations.pdf (",
        "✓ complete in",
    ):
        assert any(expected in line for line in lines), f"{expected!r} not in:\n{result.stdout}"
    # One line per tool call, and none of the code itself.
    assert sum("→ python" in line for line in lines) == 2
    assert "groupby" not in result.stdout
    assert "Downloaded 10 artifacts" in result.stdout
    assert f"from s3://{BUCKET}/sessions/{session_id}/artifacts/" in result.stdout

    files = {path.name for path in out.iterdir()}
    assert files == {
        "all_results.txt",
        "audit.json",
        "calculation_metadata.json",
        "citations.json",
        "final_report.docx",
        "final_report.md",
        "final_report.pdf",
        "final_report_with_citations.docx",
        "final_report_with_citations.pdf",
        "sales_by_category.png",
    }
    for name in files:
        assert f"  {name}  " in result.stdout
    # The figures were computed from the data this command uploaded.
    assert f"calc-total-sales: {TOTAL}" in (out / "all_results.txt").read_text(encoding="utf-8")
    citations = json.loads((out / "citations.json").read_text(encoding="utf-8"))
    assert citations[0]["value"] == f"{TOTAL:,}"
    report = "".join(page.extract_text() for page in PdfReader(out / "final_report_with_citations.pdf").pages)
    assert f"{TOTAL:,}" in report
    assert (out / "sales_by_category.png").read_bytes().startswith(b"\x89PNG")


def test_on_a_terminal_it_runs_a_live_display_and_names_the_folder_after_the_session(
    s3, outputs_file, tmp_path, monkeypatch
):
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=100, highlight=False)
    monkeypatch.setattr(job, "console", terminal)
    monkeypatch.chdir(tmp_path)
    result = cli("--stack", "dev", "Total sales?", "--data", DATA, "--language", "en", "--outputs", outputs_file)
    assert result.exit_code == 0, result.output
    text = screen.getvalue()
    session_id = SESSION_LINE.search(Text.from_ansi(text).plain).group(1)  # type: ignore[union-attr]
    assert (tmp_path / f"deep-insight-{session_id}" / "final_report.pdf").is_file()
    assert f"to deep-insight-{session_id}/ from" in text
    assert "⠋" in text  # the spinner's first frame, drawn by the live display between events
    assert "runtime · preparing · executor ready" in text
    # A terminal gets an agent's whole text (line breaks kept: see the view's tests).
    assert "  planner: 1. 총 매출 계산 2. 카테고리별 매출 3. 차트" in Text.from_ansi(text).plain


@pytest.mark.parametrize("kind", ["missing", "folder"])
def test_a_bad_data_file_stops_before_anything_is_created(s3, agentcore, outputs_file, tmp_path, kind):
    plane, _ = agentcore
    calls = len(plane.invocations)
    path = tmp_path / "sales.csv"
    if kind == "folder":
        path.mkdir()
    result = cli("--stack", "dev", QUESTION, "--data", path, "--outputs", outputs_file)
    assert result.exit_code == 2
    reason = "no such file" if kind == "missing" else "not a file (give a CSV file)"
    assert result.stderr == f"error: --data {path}: {reason}\n"
    assert result.stdout == ""
    assert keys(s3) == []
    assert len(plane.invocations) == calls


def test_a_failed_job_exits_1_with_its_message_and_keeps_what_it_made(s3, outputs_file, tmp_path):
    out = tmp_path / "out"
    result = cli(
        "--stack", "dev", "please fail at validation", "--data", DATA, "--download", out, "--outputs", outputs_file
    )
    assert result.exit_code == 1, result.output
    session_id = SESSION_LINE.search(result.stdout).group(1)  # type: ignore[union-attr]
    assert "✗ job failed: the script has no turn left" in result.stdout
    assert result.stderr.splitlines()[-1] == f"error: the script has no turn left (session {session_id})"
    assert "Traceback" not in result.output
    # The coder's files reached S3 in the runtime's cleanup, and from there the download folder.
    assert {"all_results.txt", "calculation_metadata.json", "sales_by_category.png"} <= {p.name for p in out.iterdir()}


def test_ctrl_c_closes_the_stream_and_says_where_things_are(s3, outputs_file, tmp_path, monkeypatch):
    original = job.stream_events

    def interrupted_after_three(*args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        for count, event in enumerate(original(*args, **kwargs), start=1):
            yield event
            if count == 3:
                raise KeyboardInterrupt

    monkeypatch.setattr(job, "stream_events", interrupted_after_three)
    out = tmp_path / "out"
    result = cli("--stack", "dev", QUESTION, "--data", DATA, "--download", out, "--outputs", outputs_file)
    assert result.exit_code == 130
    session_id = SESSION_LINE.search(result.stdout).group(1)  # type: ignore[union-attr]
    assert "Traceback" not in result.output
    assert "Aborted" not in result.output
    assert result.stderr.splitlines() == [
        f"Interrupted while running the job · session {session_id}",
        "Nothing downloaded.",
        f"The job's artifacts, as far as it published them, are under s3://{BUCKET}/sessions/{session_id}/artifacts/;"
        f" fetch them with: aws s3 cp --recursive s3://{BUCKET}/sessions/{session_id}/artifacts/ {out}",
    ]
    assert not out.exists()


def test_a_wrong_runtime_arn_is_one_aws_error_line(s3, outputs_file):
    outputs = json.loads(outputs_file.read_text())
    outputs["agentRuntimeArn"] = RUNTIME_ARN + "-gone"
    outputs_file.write_text(json.dumps(outputs))
    result = cli("--stack", "dev", QUESTION, "--outputs", outputs_file)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: AWS refused InvokeAgentRuntime: ResourceNotFoundException")
    assert len(result.stderr.splitlines()) == 1


# --- a stub runtime: stream endings the real one does not produce on demand ---------------------------------

STUB_SESSION = "deep-insight-20261124T000000Z-" + "0" * 32


class StubAgentCore:
    def __init__(self, *events: dict[str, Any]) -> None:
        self.body = _Body(_Raw([sse(event) for event in events]))

    def invoke_agent_runtime(self, **request: Any) -> dict[str, Any]:
        return {"response": self.body, "contentType": "text/event-stream"}


@pytest.fixture
def stub_runtime(s3, monkeypatch):
    """The command with a fixed session id and the runtime replaced by a stub; S3 is still moto."""
    monkeypatch.setattr(job, "new_session_id", lambda: STUB_SESSION)
    real_client = job.aws_client

    def use(runtime: StubAgentCore, s3_wrapper: Any = None) -> None:
        def client(service: str, region: str, config: Any = None) -> Any:
            if service == "bedrock-agentcore":
                # Starting a job is not idempotent: botocore must make exactly one attempt.
                assert config is not None
                assert config.retries["total_max_attempts"] == 1  # botocore adds "mode" once a client is made
                return runtime
            return s3_wrapper(real_client(service, region)) if s3_wrapper else real_client(service, region)

        monkeypatch.setattr(job, "aws_client", client)

    return use


def test_a_stream_that_ends_without_a_result_exits_1(stub_runtime, s3, outputs_file, tmp_path):
    runtime = StubAgentCore(make_event("status", STUB_SESSION, phase="executor starting"))
    stub_runtime(runtime)
    result = cli("--stack", "dev", QUESTION, "--download", tmp_path / "out", "--outputs", outputs_file)
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: the stream ended after 1 event without a result (no complete event) (session {STUB_SESSION})\n"
    )
    assert f"No artifacts under s3://{BUCKET}/sessions/{STUB_SESSION}/artifacts/" in result.stdout
    assert runtime.body.closed


def test_ctrl_c_while_downloading_says_what_arrived(stub_runtime, s3, outputs_file, tmp_path):
    prefix = f"sessions/{STUB_SESSION}/artifacts/"
    for name in ("a.txt", "b.txt", "charts/c.png"):
        s3.put_object(Bucket=BUCKET, Key=prefix + name, Body=name.encode())
    complete = make_event(
        "complete", STUB_SESSION, artifacts=[], durationSeconds=1.0, usage={"inputTokens": 1, "outputTokens": 1}
    )

    class InterruptedOnSecondGet:
        def __init__(self, client: Any) -> None:
            self.client, self.gets = client, 0

        def __getattr__(self, name: str) -> Any:
            return getattr(self.client, name)

        def get_object(self, **request: Any) -> Any:
            self.gets += 1
            if self.gets == 2:
                raise KeyboardInterrupt
            return self.client.get_object(**request)

    stub_runtime(StubAgentCore(complete), InterruptedOnSecondGet)
    out = tmp_path / "out"
    result = cli("--stack", "dev", QUESTION, "--download", out, "--outputs", outputs_file)
    assert result.exit_code == 130
    assert result.stderr.splitlines()[:2] == [
        f"Interrupted while downloading the artifacts · session {STUB_SESSION}",
        f"Downloaded 1 artifact to {out} before stopping.",
    ]
    assert sorted(p.name for p in out.rglob("*")) == ["a.txt"]  # no half-written file under a real name


# --- pure parts --------------------------------------------------------------------------------------------


def sse(*events: dict[str, Any]) -> bytes:
    return "".join(f"data: {json.dumps(e, ensure_ascii=False)}\n\n" for e in events).encode()


def test_sse_parser_takes_chunks_cut_anywhere():
    stream = (
        ": heartbeat\r\n"
        'data: {"a": "매출"}\r\n\r\n'
        "event: message\nid: 7\ndata: line one\ndata: line two\n\n"
        "data\n\n"
        "data:no space\r\r"
        "data: unterminated"
    ).encode()
    payloads: list[str] = []
    parser = SseParser()
    for index in range(len(stream)):  # byte by byte: splits CRLF pairs and the Korean characters' UTF-8
        payloads += parser.feed(stream[index : index + 1])
    payloads += parser.close()
    assert payloads == ['{"a": "매출"}', "line one\nline two", "", "no space", "unterminated"]
    whole = SseParser()
    assert [*whole.feed(stream), *whole.close()] == payloads


def test_stream_events_skips_what_breaks_the_contract():
    sid = "s" * 40
    good = make_event("status", sid, phase="executor ready")
    warnings: list[str] = []
    chunks = [
        sse(good),
        b"data: not json\n\n",
        sse({"type": "agent", "ts": good["ts"], "sessionId": sid}),
        sse(make_event("keepalive", "o" * 40)),
        sse(
            make_event("complete", sid, artifacts=[], durationSeconds=1.0, usage={"inputTokens": 1, "outputTokens": 2})
        ),
    ]
    events = list(stream_events(chunks, sid, warnings.append))
    assert [e["type"] for e in events] == ["status", "complete"]
    assert len(warnings) == 3
    assert "not JSON" in warnings[0]
    assert "agent: agent missing" in warnings[1]
    assert "is not this session's" in warnings[2]


class _Raw:
    def __init__(self, chunks: list[bytes | Exception]) -> None:
        self.chunks = chunks

    def read1(self, size: int) -> bytes:
        chunk = self.chunks.pop(0) if self.chunks else b""
        if isinstance(chunk, Exception):
            raise chunk
        return chunk


class _Body:
    def __init__(self, raw: _Raw) -> None:
        self._raw_stream = raw
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_read_chunks_passes_on_what_arrived_and_reports_a_broken_connection():
    assert list(read_chunks(_Body(_Raw([b"data: 1\n", b"\n"])))) == [b"data: 1\n", b"\n"]
    broken = read_chunks(_Body(_Raw([b"data: 1\n", urllib3.exceptions.ProtocolError("Connection reset")])))
    assert next(broken) == b"data: 1\n"
    with pytest.raises(StreamBrokenError, match="Connection reset"):
        next(broken)


def view_after(events: list[tuple[float, dict[str, Any]]], *, full_text: bool = False) -> tuple[JobView, list[str]]:
    view = JobView(started=100.0, full_text=full_text)
    lines = [f"{line.at - 100:.0f} {line.text}" for at, event in events for line in view.apply(event, at)]
    return view, lines


def test_the_view_prints_one_line_per_meaningful_event():
    sid = "s" * 40
    code = "import pandas as pd\nsales = pd.read_csv('data/x.csv')\nprint(sales['금액'].sum())"
    view, lines = view_after(
        [
            (101, make_event("status", sid, phase="executor ready")),
            (102, make_event("agent", sid, agent="planner", state="started")),
            (103, make_event("text", sid, agent="planner", text="1. 총 매출\n")),
            (103, make_event("text", sid, agent="planner", text="2. 차트   그리기")),
            (104, make_event("keepalive", sid)),
            (105, make_event("agent", sid, agent="planner", state="finished")),
            (106, make_event("agent", sid, agent="coder", state="started")),
            (107, make_event("tool", sid, agent="coder", tool="python", input={"code": code})),
            (109, make_event("tool_result", sid, agent="coder", tool="python", status="success")),
            (110, make_event("tool", sid, agent="coder", tool="bash", input={"command": "ls -la artifacts\nwc -l x"})),
            (111, make_event("tool_result", sid, agent="coder", tool="bash", status="error")),
            (112, make_event("artifact", sid, name="final_report.pdf", s3Uri="s3://b/k", bytes=48_300)),
            (
                113,
                make_event(
                    "complete",
                    sid,
                    artifacts=[{}],
                    durationSeconds=12.34,
                    usage={"inputTokens": 7000, "outputTokens": 140},
                ),
            ),
        ]
    )
    assert lines == [
        "1 · executor ready",
        "2 ▶ planner started",
        "5   planner: 1. 총 매출 2. 차트 그리기",
        "5 ✓ planner finished in 3.0 s",
        "6 ▶ coder started",
        "7   coder → python (3 lines)",
        "10   coder → bash: ls -la artifacts…",
        "11   coder ✗ bash error",
        "12 artifact final_report.pdf (47.2 KB)",
        "13 ✓ complete in 12.3 s · 1 artifact · 2 tool calls · tokens 7,000 in / 140 out",
    ]
    assert view.keepalives == 1
    assert view.complete is not None
    assert view.error is None


def test_the_view_shows_the_agent_at_work_and_how_long_it_has_been_quiet():
    sid = "s" * 40
    view, _ = view_after(
        [
            (101, make_event("status", sid, phase="executor ready")),
            (102, make_event("agent", sid, agent="coder", state="started")),
            (103, make_event("tool", sid, agent="coder", tool="python", input={"code": "x = 1"})),
            (118, make_event("keepalive", sid)),
        ]
    )
    assert view.status(110) == "00:10 · coder · running python · executor ready"
    assert view.status(130) == (
        "00:30 · coder · running python · executor ready · no news for 27 s, last keepalive 12 s ago"
    )
    assert view.status(100 + 3725).startswith("1:02:05 · ")
    view.apply(make_event("text", sid, agent="coder", text="총 매출은\n157,685,452원"), 131)
    assert view.typing(80) == "coder: 157,685,452원"
    assert view.typing(10) == "coder: 15…"


def test_a_terminal_gets_the_whole_text_and_errors_say_whether_to_retry():
    sid = "s" * 40
    long_plan = "\n".join(f"{n}. step {'x' * 60}" for n in range(1, 8))
    _, plain = view_after(
        [
            (101, make_event("text", sid, agent="planner", text=long_plan)),
            (102, make_event("error", sid, message="boom", retryable=True)),
        ]
    )
    assert plain[0].endswith("…")
    assert len(plain[0]) < 300
    assert "\n" not in plain[0]
    assert plain[1] == "2 ✗ job failed: boom (retryable: run it again)"
    _, full = view_after(
        [
            (101, make_event("text", sid, agent="planner", text=long_plan)),
            (102, make_event("error", sid, message="boom", retryable=False)),
        ],
        full_text=True,
    )
    assert full[0].count("\n") == 6
    assert full[0].endswith("x" * 60)
    assert full[1] == "2 ✗ job failed: boom"


def test_session_ids_fit_agentcore_and_the_contract_and_sort_by_time():
    ids = [job.new_session_id(datetime(2026, 12, 2, 10, 15, second, tzinfo=UTC)) for second in range(50)]
    assert len(set(ids)) == 50
    assert ids == sorted(ids)
    # AgentCore: SessionType of 33-256 characters (botocore's model); Deep Insight: the contract's rule.
    session_type = boto3.client("bedrock-agentcore", region_name=REGION).meta.service_model.shape_for("SessionType")
    for session_id in ids:
        assert session_type.metadata["min"] <= len(session_id) <= session_type.metadata["max"]
        assert is_session_id(session_id)
        assert re.fullmatch(r"deep-insight-20261202T1015\d\dZ-[0-9a-f]{32}", session_id)


def test_the_cli_invokes_the_endpoint_the_program_creates():
    assert job.QUALIFIER == ENDPOINT_NAME


def test_sizes_and_clock():
    assert [invoke_text.human_size(n) for n in (0, 1023, 1024, 48_300, 5 * 1024**2, 3 * 1024**4)] == [
        "0 B", "1023 B", "1.0 KB", "47.2 KB", "5.0 MB", "3072.0 GB"
    ]  # fmt: skip
    assert [invoke_text.clock(s) for s in (0, 59.9, 61, 3600)] == ["00:00", "00:59", "01:01", "1:00:00"]


@pytest.mark.usefixtures("s3")  # the moto S3 the CLI and the runtime share, and its credentials
@pytest.mark.parametrize("answer", ["approve", "edit"])
def test_review_lets_a_person_approve_or_edit_the_plan(agentcore, outputs_file, tmp_path, monkeypatch, answer):
    plane, _ = agentcore
    revised = "1. 총 매출만 계산"
    # The person's editor: what they would save (click.edit returns the saved text).
    monkeypatch.setattr(job.click, "edit", lambda text: revised)
    result = CliRunner().invoke(
        app,
        ["invoke", "--stack", "dev", QUESTION, "--data", str(DATA), "--download", str(tmp_path / "out"),
         "--outputs", str(outputs_file), "--review"],
        input="a\n" if answer == "approve" else "e\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert plane.invocations[-1].payload["planReview"] is True
    assert "? plan waiting for review (600 s, then proceed)" in result.stdout
    assert "1. 총 매출 계산 2. 카테고리별 매출 3. 차트" in result.stdout  # the plan, shown before the question
    if answer == "approve":
        assert "Plan approved." in result.stdout
        assert "· plan approved" in result.stdout
    else:
        assert "Plan revised." in result.stdout
        assert "· plan revised by a person" in result.stdout
    assert "✓ complete in" in result.stdout
