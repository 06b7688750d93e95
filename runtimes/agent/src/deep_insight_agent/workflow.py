"""The job: planner -> coder -> validator -> reporter (SPEC §1), each a strands agent whose code runs in
the session's executor, streamed as SPEC §7 events, ending with the PDFs and the artifacts in S3."""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from deep_insight_contract.agents import AGENT_NAMES
from deep_insight_contract.events import EventType
from strands import Agent
from strands.models.model import Model

from deep_insight_agent.artifacts import ARTIFACT_FOLDER, EXPECTED_ARTIFACTS, fetch_inputs, publish_artifacts
from deep_insight_agent.audit import Audit, Finding, audit
from deep_insight_agent.events import make_event
from deep_insight_agent.executor_client import ExecutorClient
from deep_insight_agent.executor_session import ExecutorSession, Notify
from deep_insight_agent.payload import Invocation
from deep_insight_agent.plan_review import plan_review
from deep_insight_agent.presign import SessionPresigner, s3_client
from deep_insight_agent.report import Citation, Cover, Report, Section, render
from deep_insight_agent.report_content import ReportContent
from deep_insight_agent.report_docx import render_docx
from deep_insight_agent.report_markdown import render_markdown
from deep_insight_agent.resilience import ATTEMPTS, STALL_SECONDS, TOTAL_SECONDS, ResilientModel
from deep_insight_agent.tools import executor_tools

AGENTS = AGENT_NAMES
USAGE_FIELDS = ("inputTokens", "outputTokens", "cacheReadInputTokens", "cacheWriteInputTokens")
"""What the complete event's usage counts, in total and per agent (Bedrock's TokenUsage names)."""
REVIEW_ROUNDS = 2
"""How many times the validator may send the coder back before the reporter writes with what there is."""
AUDIT_ATTEMPTS = 2
"""The reporter's first report and one retry with the audit's findings; then it is published as unaudited."""
LANGUAGE_NAMES = {"ko": "Korean", "en": "English"}


def system_prompt(agent: str, language: str) -> str:
    text = resources.files("deep_insight_agent").joinpath(f"prompts/{agent}.md").read_text(encoding="utf-8")
    return text.replace("{language_name}", LANGUAGE_NAMES[language])


@dataclass
class WorkflowDeps:
    model_for: Callable[[str], Model]
    """The model of each agent (Bedrock in AWS; a scripted model in tests)."""
    open_executor: Callable[[str, Notify], AbstractAsyncContextManager[ExecutorSession]]
    """The session's executor: ECS/ALB in AWS, a local URL in development. It gets the session id and a
    function that puts a notice (e.g. a cleanup step that failed) on the job's stream as a status event."""
    artifact_bucket: str | None
    stall_seconds: float = STALL_SECONDS
    retry_base_delay: float = 2.0
    s3: Any = None
    """The S3 client the agent signs the executor's URLs with (its own role); None: ``presign.s3_client()``,
    made when a job first needs it."""
    review_poll_seconds: float = 2.0
    """How often a plan review looks for the person's decision."""
    review_folder: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "deep-insight-reviews")
    """Without a bucket (local runs), plan decisions are files here: ``<session id>/decision.json``."""
    data_dirs: tuple[Path, ...] = ()
    """Without a bucket, the folders ``file://`` inputs may come from (none: no local file is read)."""

    def presigner(self, session_id: str) -> SessionPresigner | None:
        """URLs for this session's keys only; None without a bucket (local runs: files stay in the workspace)."""
        if self.artifact_bucket is None:
            return None
        if self.s3 is None:
            self.s3 = s3_client()
        return SessionPresigner(self.s3, self.artifact_bucket, session_id)


def new_usage() -> dict[str, Any]:
    return {**dict.fromkeys(USAGE_FIELDS, 0), "byAgent": {}}


def add_usage(usage: dict[str, Any], agent: str, accumulated: Mapping[str, Any]) -> None:
    """Add one agent run's token counts to the job's totals and to that agent's (a retried agent adds up)."""
    mine = usage["byAgent"].setdefault(agent, dict.fromkeys(USAGE_FIELDS, 0))
    for name in USAGE_FIELDS:
        count = int(accumulated.get(name, 0) or 0)
        usage[name] += count
        mine[name] += count


def build_agent(
    model: Model,
    *,
    tools: list[Any],
    system_prompt: str,
    notify: Callable[[str], None],
    stall_seconds: float = STALL_SECONDS,
    base_delay: float = 2.0,
    attempts: int = ATTEMPTS,
    total_seconds: float = TOTAL_SECONDS,
) -> Agent:
    """An agent whose model turns are retried by ``ResilientModel`` alone: strands' own retry strategy
    (by default 6 attempts of its own around each model call) is off, so one call is one attempt."""
    resilient = ResilientModel(
        model,
        notify=notify,
        attempts=attempts,
        base_delay=base_delay,
        stall_seconds=stall_seconds,
        total_seconds=total_seconds,
    )
    return Agent(model=resilient, tools=tools, system_prompt=system_prompt, callback_handler=None, retry_strategy=None)


async def _run_agent(
    name: str,
    agent: Agent,
    task: str,
    *,
    session_id: str,
    usage: dict[str, Any],
    texts: list[str],
    notices: asyncio.Queue,
) -> AsyncIterator[dict[str, Any]]:
    """The agent's stream as SPEC §7 events, merged with the model wrapper's notices (retries)."""
    tool_names: dict[str, str] = {}
    done = object()

    async def pump() -> None:
        try:
            async for event in agent.stream_async(task):
                await notices.put(("agent", event))
            await notices.put(("done", done))
        except Exception as error:
            await notices.put(("failed", error))

    runner = asyncio.create_task(pump())
    try:
        while True:
            kind, event = await notices.get()
            if kind == "notice":
                yield make_event(EventType.STATUS, session_id, phase=event)
                continue
            if kind == "failed":
                raise event
            if kind == "done":
                return
            if event.get("data"):
                texts.append(event["data"])
                yield make_event(EventType.TEXT, session_id, agent=name, text=event["data"])
            elif "message" in event:
                for block in event["message"].get("content", []):
                    if "toolUse" in block:
                        use = block["toolUse"]
                        tool_names[use["toolUseId"]] = use["name"]
                        yield make_event(
                            EventType.TOOL, session_id, agent=name, tool=use["name"], input=use.get("input")
                        )
                    elif "toolResult" in block:
                        result = block["toolResult"]
                        yield make_event(
                            EventType.TOOL_RESULT,
                            session_id,
                            agent=name,
                            tool=tool_names.get(result["toolUseId"], "unknown"),
                            status=result.get("status", "success"),
                        )
            elif "result" in event:
                add_usage(usage, name, event["result"].metrics.accumulated_usage)
    finally:
        if not runner.done():
            runner.cancel()
            with contextlib.suppress(BaseException):
                await runner


async def _load_json(executor: ExecutorClient, path: str) -> Any:
    with contextlib.suppress(Exception):
        return json.loads(await executor.get_file(path))
    return None


async def _audit(executor: ExecutorClient, holder: dict[str, Any]) -> Audit:
    """The recorded report against the validator's citations and the coder's calculations (audit.py)."""
    content: ReportContent | None = holder.get("content")
    if content is None:
        return Audit(defects=[Finding("report", "the reporter recorded no report (call write_report)")])
    citations = await _load_json(executor, f"{ARTIFACT_FOLDER}/citations.json")
    calculations = await _load_json(executor, f"{ARTIFACT_FOLDER}/calculation_metadata.json")
    return audit(
        content.fragments(),
        [c for c in citations or [] if isinstance(c, dict)],
        [c for c in calculations or [] if isinstance(c, dict)],
    )


async def _write_reports(executor: ExecutorClient, holder: dict[str, Any], cover: Cover, language: str) -> None:
    citations = []
    for item in await _load_json(executor, f"{ARTIFACT_FOLDER}/citations.json") or []:
        citations.append(
            Citation(int(item["number"]), str(item["calculationId"]), str(item["value"]), str(item["derivation"]))
        )
    content: ReportContent = holder.get("content") or ReportContent("Deep Insight report")
    sections = []
    for section in content.sections:
        charts = []
        for chart in section.charts:
            with contextlib.suppress(Exception):
                charts.append((await executor.get_file(chart.path), chart.caption))
        sections.append(
            Section(
                section.heading,
                section.paragraphs,
                bullets=section.bullets,
                tables=section.tables,
                charts=tuple(charts),
                key_figures=section.key_figures,
            )
        )
    found: Audit | None = holder.get("audit")
    notice = None
    if found is not None and not found.passed:
        notice = f"Unaudited: {len(found.defects)} defect(s) in its citations remain; see audit.json."
    report = Report(content.title, tuple(sections), tuple(citations), notice=notice, cover=cover, language=language)
    await executor.put_file(f"{ARTIFACT_FOLDER}/final_report_with_citations.pdf", render(report, with_citations=True))
    await executor.put_file(f"{ARTIFACT_FOLDER}/final_report.pdf", render(report, with_citations=False))
    docx = render_docx(report, with_citations=True)
    await executor.put_file(f"{ARTIFACT_FOLDER}/final_report_with_citations.docx", docx)
    await executor.put_file(f"{ARTIFACT_FOLDER}/final_report.docx", render_docx(report, with_citations=False))
    await executor.put_file(f"{ARTIFACT_FOLDER}/final_report.md", render_markdown(report, content).encode())


def _status_events(session_id: str, notices: list[str]) -> list[dict[str, Any]]:
    events = [make_event(EventType.STATUS, session_id, phase=notice) for notice in notices]
    notices.clear()
    return events


async def run_job(invocation: Invocation, session_id: str, deps: WorkflowDeps) -> AsyncIterator[dict[str, Any]]:
    started = time.monotonic()
    usage: dict[str, Any] = new_usage()
    notices: list[str] = []  # from the executor session: its start and its cleanup
    published: list[list[dict[str, Any]]] = []
    yield make_event(EventType.STATUS, session_id, phase="executor starting")
    try:
        # aclosing: closing this job (a cancelled stream) closes the executor session's block at once.
        job = _on_executor(invocation, session_id, deps, usage=usage, notices=notices, published=published)
        async with contextlib.aclosing(job):
            async for event in job:
                yield event
    except Exception:
        # What the executor session reported on its way out still reaches the stream before the job's
        # own error, which stays the error (guarded() turns it into the terminal event).
        for event in _status_events(session_id, notices):
            yield event
        raise
    # A cleanup step that failed is a status event, never a failure of the finished job.
    for event in _status_events(session_id, notices):
        yield event
    yield make_event(
        EventType.COMPLETE,
        session_id,
        artifacts=published[0],
        durationSeconds=round(time.monotonic() - started, 3),
        usage=usage,
    )


async def _on_executor(
    invocation: Invocation,
    session_id: str,
    deps: WorkflowDeps,
    *,
    usage: dict[str, Any],
    notices: list[str],
    published: list[list[dict[str, Any]]],
) -> AsyncGenerator[dict[str, Any]]:
    """The job inside the executor session; appends the published artifacts to ``published`` at the end."""
    async with deps.open_executor(session_id, notices.append) as session, ExecutorClient(session) as executor:
        for event in _status_events(session_id, notices):
            yield event
        yield make_event(EventType.STATUS, session_id, phase="executor ready")
        presigner = deps.presigner(session_id)
        if invocation.data:
            files = await fetch_inputs(executor, invocation.data, presigner, deps.data_dirs)
            yield make_event(EventType.STATUS, session_id, phase=f"{files} input file(s) in data/")
        await executor.execute(f"import os\nos.makedirs({ARTIFACT_FOLDER!r}, exist_ok=True)")
        holder: dict[str, Any] = {}
        artifacts: list[dict[str, Any]] | None = None
        try:
            tools = executor_tools(executor, holder)
            notes = [f"Question: {invocation.prompt}", f"Input files: {', '.join(invocation.data) or 'none'}"]

            async def step(name: str, prompt: str) -> AsyncGenerator[dict[str, Any]]:
                yield make_event(EventType.AGENT, session_id, agent=name, state="started")
                queue: asyncio.Queue = asyncio.Queue()
                agent = build_agent(
                    deps.model_for(name),
                    tools=tools[name],
                    system_prompt=system_prompt(name, invocation.language),
                    notify=lambda message, queue=queue: queue.put_nowait(("notice", message)),
                    stall_seconds=deps.stall_seconds,
                    base_delay=deps.retry_base_delay,
                )
                texts: list[str] = []
                async for event in _run_agent(
                    name, agent, prompt, session_id=session_id, usage=usage, texts=texts, notices=queue
                ):
                    yield event
                notes.append(f"{name} said:\n{''.join(texts)}")
                yield make_event(EventType.AGENT, session_id, agent=name, state="finished")

            for name in AGENTS[:-1]:
                async for event in step(name, "\n\n".join(notes)):
                    yield event
                if name == "planner" and invocation.plan_review:
                    async for event in plan_review(invocation, session_id, deps, notes):
                        yield event
            for _ in range(REVIEW_ROUNDS):
                sent = holder.pop("discrepancies", None)
                if not sent:
                    break
                listed = "\n".join(
                    f"- {item['calculationId']}: recorded {item.get('recorded')!r}, recomputed "
                    f"{item['recomputed']!r}. {item.get('note', '')}".rstrip()
                    for item in sent
                )
                yield make_event(
                    EventType.STATUS, session_id, phase=f"validator sent {len(sent)} discrepancy(ies) back to the coder"
                )
                fix = f"The validator's recomputation disagrees with these calculations. Fix them:\n{listed}"
                async for event in step("coder", "\n\n".join([*notes, fix])):
                    yield event
                async for event in step("validator", "\n\n".join(notes)):
                    yield event
            if holder.get("discrepancies"):
                yield make_event(
                    EventType.STATUS,
                    session_id,
                    phase=f"{len(holder['discrepancies'])} discrepancy(ies) remain after {REVIEW_ROUNDS} round(s)",
                )
            async for event in step("reporter", "\n\n".join(notes)):
                yield event
            attempt, found = 0, Audit()
            for attempt in range(1, AUDIT_ATTEMPTS + 1):
                found = await _audit(executor, holder)
                yield make_event(EventType.AUDIT, session_id, attempt=attempt, **found.as_event_fields())
                if found.passed or attempt == AUDIT_ATTEMPTS:
                    break
                defects = "\n".join(f"- {defect}" for defect in found.defects)
                retry = (
                    f"The audit of your report found these defects. Fix them and call write_report again:\n{defects}"
                )
                async for event in step("reporter", "\n\n".join([*notes, retry])):
                    yield event
            holder["audit"] = found
            await executor.put_file(
                f"{ARTIFACT_FOLDER}/audit.json",
                json.dumps({"attempts": attempt, **found.as_event_fields()}, ensure_ascii=False, indent=2).encode(),
            )
            yield make_event(EventType.STATUS, session_id, phase="rendering reports")
            cover = Cover(
                question=invocation.prompt,
                data_files=tuple(uri.rsplit("/", 1)[-1] for uri in invocation.data),
                date=datetime.now(UTC).strftime("%Y-%m-%d"),
                session_id=session_id,
            )
            await _write_reports(executor, holder, cover, invocation.language)
            artifacts = await publish_artifacts(executor, presigner)
            for artifact in artifacts:
                yield make_event(EventType.ARTIFACT, session_id, **artifact)
            missing = [name for name in EXPECTED_ARTIFACTS if name not in {a["name"] for a in artifacts}]
            if missing:
                yield make_event(EventType.STATUS, session_id, phase=f"missing artifacts: {', '.join(missing)}")
        finally:
            if artifacts is None:
                # The job failed or was cancelled: what it produced so far still reaches S3.
                with contextlib.suppress(Exception):
                    await asyncio.shield(publish_artifacts(executor, presigner))
    assert artifacts is not None  # set when the job got this far
    published.append(artifacts)
