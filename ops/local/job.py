"""One job on this machine: a local executor, the agent workflow in-process, the artifacts in a folder.

The workflow is the runtime's own (``deep_insight_agent.workflow.run_job``), fed by a local executor session;
its events drive the same view as ``invoke``. Whatever way the job ends (done, failed, Ctrl-C), the
session's artifacts so far are copied into the folder, the executor session is ended and the executor
stopped."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deep_insight_agent.artifacts import ARTIFACT_FOLDER
from deep_insight_agent.events import guarded
from deep_insight_agent.executor_client import ExecutorClient
from deep_insight_agent.executor_local import LocalExecutorSession
from deep_insight_agent.executor_session import ExecutorSession, Notify
from deep_insight_agent.payload import PayloadError, parse_invocation
from deep_insight_agent.workflow import WorkflowDeps, run_job
from deep_insight_contract.events import TERMINAL, EventType

from ops.console import OpsError
from ops.local.executor_process import LOCAL_RUNS, RunningExecutor, local_executor
from ops.local.models import ModelFor

REVIEW_FOLDER = ".review"
"""Inside the run's folder: where a plan decision is written (``<session id>/decision.json``)."""


@dataclass
class LocalJob:
    """What a local job needs and what it has done so far (``copied`` grows as artifacts land)."""

    question: str
    data: list[Path]
    target: Path
    session_id: str
    model_for: ModelFor
    language: str | None = None
    review: bool = False
    copied: list[Path] = field(default_factory=list)

    def data_dirs(self) -> tuple[Path, ...]:
        """The folders of the files this job was given: the only ones its ``file://`` inputs may come from.
        The workflow reads no other local file (a payload is not trusted to name one)."""
        return tuple(sorted({path.resolve().parent for path in self.data}))

    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"prompt": self.question, "data": [path.resolve().as_uri() for path in self.data]}
        if self.language is not None:
            payload["language"] = self.language
        if self.review:
            payload["planReview"] = True
        return payload


def is_artifact_name(name: str) -> bool:
    """Whether a file the job wrote may be copied into its folder under ``name``: not over the folder's own
    records (what was asked, the events, a plan decision), which the model's code could otherwise write."""
    first = name.split("/", 1)[0]
    return first not in (JOB_FILE, EVENTS_FILE) and not first.startswith(".")


async def copy_artifacts(
    session: ExecutorSession, target: Path, copied: list[Path], *, only: str | None = None, suffix: str = ""
) -> None:
    """The session's ``artifacts/`` (the one named ``only``, or those ending in ``suffix``) into ``target``:
    each file written beside its name and renamed when whole; one already copied is not copied again."""
    async with ExecutorClient(session) as client:
        if only is not None:
            names = [only]
        else:
            listed = [entry.path for entry in await client.list_files()]
            names = [
                path.removeprefix(f"{ARTIFACT_FOLDER}/")
                for path in listed
                if path.startswith(f"{ARTIFACT_FOLDER}/") and path.endswith(suffix)
            ]
        for name in names:
            destination = target / name
            if destination in copied or not is_artifact_name(name):
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            partial = destination.with_name(destination.name + ".part")
            partial.write_bytes(await client.get_file(f"{ARTIFACT_FOLDER}/{name}"))
            partial.replace(destination)
            copied.append(destination)


def write_decision(event: dict[str, Any], decision: dict[str, str]) -> None:
    """Put a plan decision where a local job waits for it (the plan_review event's file:// decisionUri)."""
    path = Path(str(event["decisionUri"]).removeprefix("file://"))
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps(decision, ensure_ascii=False), encoding="utf-8")
    os.replace(partial, path)  # the job never reads half a decision


async def events_of(job: LocalJob, executor: RunningExecutor) -> AsyncIterator[dict[str, Any]]:
    """The job's SPEC §7 events, ending in exactly one complete or error event."""
    try:
        invocation = parse_invocation(job.payload(), artifact_bucket=None, data_dirs=job.data_dirs())
    except PayloadError as error:
        raise OpsError(str(error)) from None

    live: list[ExecutorSession] = []

    @contextlib.asynccontextmanager
    async def open_executor(session_id: str, report: Notify) -> AsyncIterator[ExecutorSession]:
        async with LocalExecutorSession(executor.url, session_id, executor.token, report) as session:
            live.append(session)
            try:
                yield session
            finally:
                live.clear()
                try:
                    await copy_artifacts(session, job.target, job.copied)
                except Exception as error:  # the job's own outcome is the news; say what was not copied
                    report(f"artifacts not copied to {job.target}: {error}")

    deps = WorkflowDeps(
        model_for=job.model_for,
        open_executor=open_executor,
        artifact_bucket=None,
        review_folder=job.target / REVIEW_FOLDER,
        data_dirs=job.data_dirs(),
    )
    async for event in guarded(run_job(invocation, job.session_id, deps), job.session_id):
        if event["type"] == EventType.ARTIFACT and live:
            # Copied as it is announced, so whoever hears of it finds it in the folder.
            with contextlib.suppress(Exception):  # the copy at the session's end tries again
                await copy_artifacts(live[0], job.target, job.copied, only=event["name"])
        if event["type"] == EventType.TOOL_RESULT and live:
            # Charts are published at the end; a copy after each call lets a page show them as they come.
            with contextlib.suppress(Exception):
                await copy_artifacts(live[0], job.target, job.copied, suffix=".png")
        yield event
        if event["type"] in TERMINAL:
            return


EVENTS_FILE = "events.jsonl"
JOB_FILE = "job.json"
"""Beside the artifacts: the job's events, one JSON object a line, and what was asked (history reads them)."""


async def watch(
    job: LocalJob, executor: RunningExecutor, show: Callable[[dict[str, Any]], None], review: Callable | None
) -> dict[str, Any]:
    """Run the job, handing each event to ``show`` and appending it to ``events.jsonl``; ``review`` answers a
    plan_review event (in a thread, so the job's loop keeps running while a person thinks). Returns the
    terminal event."""
    last: dict[str, Any] = {}
    async for event in events_of(job, executor):
        append_event(job, event)
        show(event)
        last = event
        if event["type"] == EventType.PLAN_REVIEW and review is not None:
            await asyncio.to_thread(review, event)
    return last


def append_event(job: LocalJob, event: dict[str, Any]) -> None:
    """One line of ``events.jsonl``, written whole as it happens (a history read mid-job sees every event so far)."""
    with (job.target / EVENTS_FILE).open("a", encoding="utf-8") as log:
        log.write(json.dumps(event, ensure_ascii=False) + "\n")


def record_job(job: LocalJob) -> None:
    """``job.json`` in the job's folder: what was asked."""
    job.target.mkdir(parents=True, exist_ok=True)
    record = {"sessionId": job.session_id, "question": job.question, "data": [p.name for p in job.data],
              "language": job.language, "planReview": job.review}  # fmt: skip
    (job.target / JOB_FILE).write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")


async def run_local_async(
    job: LocalJob, show: Callable[[dict[str, Any]], None], review: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """The job from start to end on this machine, on the caller's event loop; returns its terminal event.
    Cancelling it cancels the job: its artifacts so far are copied and the executor is stopped."""
    record_job(job)
    with contextlib.ExitStack() as stack:
        parent = LOCAL_RUNS if LOCAL_RUNS.is_dir() and os.access(LOCAL_RUNS, os.W_OK) else None
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="deep-insight-run-", dir=parent)))
        executor = await asyncio.to_thread(stack.enter_context, local_executor(workdir, job.session_id))
        return await watch(job, executor, show, review)


def run_local(
    job: LocalJob, show: Callable[[dict[str, Any]], None], review: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """``run_local_async`` on an event loop of its own (the terminal's ``run``)."""
    return asyncio.run(run_local_async(job, show, review))
