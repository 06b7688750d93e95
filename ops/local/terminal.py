"""``deep-insight run`` at the terminal: the same live view as ``invoke``, then where the artifacts are."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import typer
from deep_insight_agent.report import ReportFontError, find_font

from ops.console import FAILED, INTERRUPTED, OpsError, console
from ops.invoke.job import ask_about_plan, decided, new_session_id, say
from ops.invoke.screen import Screen
from ops.invoke.text import human_size, plural
from ops.invoke.transfers import check_data_files
from ops.invoke.view import JobView
from ops.local import models
from ops.local.job import LocalJob, run_local, write_decision

RUNS_FOLDER = Path("deep-insight-runs")
LOG_FILE = "deep-insight-run.log"
"""In the run's folder: what the agents' libraries log (warnings and up), kept off the live view."""


def log_to(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_FILE
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    return path


def run(
    *,
    question: str,
    data: list[Path],
    out: Path | None,
    language: str | None,
    model: str,
    model_url: str | None,
    region: str | None,
    review: bool,
    scripted: Path | None,
) -> None:
    """Exit 1 when the job failed, 130 on Ctrl-C (saying where its artifacts are), 2 for bad input."""
    if not question.strip():
        raise OpsError('the question is empty; ask something, e.g. "카테고리별 매출을 분석해줘"')
    files = check_data_files(data)
    if out is not None and out.exists() and not out.is_dir():
        raise OpsError(f"--out {out}: exists and is not a folder")
    try:
        find_font()  # before the job, not after it: the reports are rendered last
    except ReportFontError as error:
        raise OpsError(f"{error} (the PDF reports embed it)") from None
    model_for, described = models.choose(model, model_url, region, scripted)
    session_id = new_session_id()
    target = out if out is not None else RUNS_FOLDER / session_id
    job = LocalJob(question.strip(), files, target, session_id, model_for, language, review)
    log = log_to(target)
    say(f"Session {session_id} · on this machine · model {described}")
    view = JobView(time.monotonic(), full_text=console.is_terminal)
    view.activity = "starting the local executor"
    try:
        with Screen(view, console) as screen:

            def show(event: dict[str, Any]) -> None:
                screen.show(view.apply(event, time.monotonic()))

            def answer(event: dict[str, Any]) -> None:
                with screen.paused():
                    decision = ask_about_plan(event)
                    write_decision(event, decision)
                    say(f"Plan {decided(decision)}.")

            try:
                terminal = run_local(job, show, answer if review else None)
            finally:
                screen.show(view.flush(time.monotonic()))
    except KeyboardInterrupt:
        say(f"Interrupted · session {session_id}", to_stderr=True)
        _summary(job)
        raise typer.Exit(INTERRUPTED) from None
    _summary(job)
    if terminal.get("type") != "complete":
        failure = terminal.get("message", "the job ended without a result")
        raise OpsError(f"{failure} (session {session_id}; log: {log})", exit_code=FAILED)


def _summary(job: LocalJob) -> None:
    if not job.copied:
        say(f"No artifacts in {job.target}.")
        return
    total = sum(path.stat().st_size for path in job.copied if path.exists())
    say(f"{plural(len(job.copied), 'artifact')} ({human_size(total)}) in {job.target}:")
    for path in sorted(job.copied):
        say(f"  {path.relative_to(job.target)}")
