"""``deep-insight run`` as a person runs it: the installed command in a process of its own, a local executor
it starts itself, the agents in-process with scripted models (only the LLM replaced; ``--scripted`` is the
test-only switch), the artifacts in a folder. Ctrl-C is a real SIGINT."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from deep_insight_agent import report
from deep_insight_agent.artifacts import EXPECTED_ARTIFACTS
from pypdf import PdfReader
from typer.testing import CliRunner

from ops.cli import app
from tests.ops.openai_server import serve as serve_openai
from tests.runtimes.agent.test_workflow import scripts  # the reference job's scripted turns
from tests.runtimes.conftest import DATA

COMMAND = str(Path(sys.executable).with_name("deep-insight"))
QUESTION = "카테고리별 매출을 분석해줘"
NO_AWS = {
    "AWS_CONFIG_FILE": "/nonexistent",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def environment(**extra: str) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**kept, **NO_AWS, "COLUMNS": "200", **extra}


def scripted(tmp_path: Path, **replace: list[dict]) -> Path:
    turns = scripts(list(pd.read_csv(DATA)["카테고리"].unique())) | replace
    path = tmp_path / "turns.json"
    path.write_text(json.dumps(turns, ensure_ascii=False), encoding="utf-8")
    return path


def run(*args: str, timeout: float = 300, **popen) -> subprocess.CompletedProcess:
    return subprocess.run(
        [COMMAND, "run", *args],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **popen,
    )


def executors_of_runs() -> list[str]:
    """Executor processes a local run started (their workdir is a deep-insight-run-* temporary folder)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "deep-insight-executor" in command and "deep-insight-run-" in command:
            found.append(command)
    return found


def test_the_reference_job_runs_on_this_machine(tmp_path):
    out = tmp_path / "out"
    result = run(QUESTION, "--data", str(DATA), "--out", str(out), "--scripted", str(scripted(tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Session deep-insight-")
    assert "on this machine" in result.stdout.splitlines()[0]
    assert "✓ complete" in result.stdout
    for name in EXPECTED_ARTIFACTS:
        assert (out / name).is_file(), name
    text = "".join(page.extract_text() for page in PdfReader(out / "final_report_with_citations.pdf").pages)
    assert "157,685,452" in text
    assert f"in {out}:" in result.stdout
    assert not list(out.glob("**/*.part"))
    assert executors_of_runs() == []


def test_without_aws_credentials_or_a_model_server_it_says_what_to_set(tmp_path):
    result = subprocess.run(
        [COMMAND, "run", QUESTION, "--data", str(DATA), "--out", str(tmp_path / "out")],
        env=environment(HOME=str(tmp_path)),
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: no AWS credentials for Bedrock: set AWS_PROFILE (or run `aws configure`), or use a model server "
        "of your own with --model openai:<model> --model-url http://…"
    ]
    assert not (tmp_path / "out").exists()  # nothing created


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model-url", "http://127.0.0.1:1/v1"], "--model-url is for an OpenAI-compatible server"),
        (["--model", "openai:qwen"], "--model openai:qwen needs --model-url, e.g. http://127.0.0.1:11434/v1"),
        (["--model", "openai:qwen", "--model-url", "ftp://x"], "--model-url ftp://x: not an http(s) URL"),
    ],
)
def test_a_model_server_needs_its_name_and_url(args, message):
    result = run(QUESTION, "--data", str(DATA), *args, timeout=60)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert message in result.stderr


def test_a_failed_job_exits_1_with_what_it_produced(tmp_path):
    out = tmp_path / "out"
    broken = [{"tools": [{"name": "python", "input": {"code": "open('artifacts/partial.txt', 'w').write('so far')"}}]}]
    result = run(QUESTION, "--data", str(DATA), "--out", str(out), "--scripted", str(scripted(tmp_path, coder=broken)))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [result.stderr.strip()]  # one line
    assert result.stderr.startswith("error: the script has no turn left (session deep-insight-")
    assert f"log: {out / 'deep-insight-run.log'}" in result.stderr
    assert (out / "partial.txt").read_text() == "so far"
    assert executors_of_runs() == []


def test_plan_review_at_the_terminal_approves(tmp_path):
    out = tmp_path / "out"
    result = run(
        QUESTION, "--data", str(DATA), "--out", str(out), "--review", "--scripted", str(scripted(tmp_path)),
        input="a\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1. 총 매출 계산" in result.stdout  # the plan, shown
    assert "Plan approved." in result.stdout
    assert "plan approved" in result.stdout  # the job's own status event
    assert (out / "final_report.pdf").is_file()


def test_ctrl_c_stops_the_job_keeps_what_it_made_and_stops_the_executor(tmp_path):
    out = tmp_path / "out"
    slow = [
        {"tools": [{"name": "python", "input": {"code": "open('artifacts/early.txt', 'w').write('1')"}}]},
        {"tools": [{"name": "python", "input": {"code": "import time\ntime.sleep(120)"}}]},
    ]
    process = subprocess.Popen(
        [COMMAND, "run", QUESTION, "--data", str(DATA), "--out", str(out), "--scripted", str(scripted(tmp_path, coder=slow))],
        env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while sum("coder → python" in line for line in lines) < 2:
            assert process.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "the coder never started its slow call"
            time.sleep(0.1)
        time.sleep(1)  # the call reaches the kernel
        process.send_signal(signal.SIGINT)
        process.wait(120)
        reader.join(10)
        stderr = process.stderr.read() if process.stderr else ""
    finally:
        if process.poll() is None:
            process.kill()
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()
    assert process.returncode == 130, "".join(lines) + stderr
    assert "Interrupted · session deep-insight-" in stderr
    assert (out / "early.txt").read_text() == "1"
    assert executors_of_runs() == []


def test_without_a_korean_font_it_says_so_before_the_job(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "FONT_CANDIDATES", ())
    monkeypatch.delenv("DEEP_INSIGHT_REPORT_FONT", raising=False)
    out = tmp_path / "out"
    args = ["run", QUESTION, "--data", str(DATA), "--out", str(out), "--scripted", str(scripted(tmp_path))]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: no TrueType font with Korean glyphs: install Debian's fonts-nanum or set DEEP_INSIGHT_REPORT_FONT "
        "(the PDF reports embed it)"
    )
    assert not out.exists()


def test_a_model_server_of_your_own_runs_the_job(tmp_path):
    """No AWS at all: strands' OpenAIModel against an OpenAI-compatible server (tests/ops/openai_server.py)."""
    out = tmp_path / "out"
    with serve_openai(scripts(list(pd.read_csv(DATA)["카테고리"].unique()))) as (server, url):
        result = subprocess.run(
            [COMMAND, "run", QUESTION, "--data", str(DATA), "--out", str(out), "--model", "openai:qwen2.5-coder",
             "--model-url", url],
            env=environment(OPENAI_API_KEY="my-key"), capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "model qwen2.5-coder at http://127.0.0.1:" in result.stdout.splitlines()[0]
    assert {request["model"] for request in server.requests} == {"qwen2.5-coder"}
    assert set(server.keys) == {"Bearer my-key"}
    text = "".join(page.extract_text() for page in PdfReader(out / "final_report.pdf").pages)
    assert "157,685,452" in text
