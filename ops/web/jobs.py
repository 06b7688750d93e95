"""The console's jobs on this machine: each is a ``deep-insight run`` job (``ops.local.job``) in a folder of
the runs folder, started on the server's event loop, watched by any number of pages, cancellable, and
listed again from its folder after a restart (``job.json`` and ``events.jsonl``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deep_insight_agent.events import make_event
from deep_insight_contract.events import TERMINAL, EventType
from deep_insight_contract.session import is_session_id

from ops.invoke.job import new_session_id
from ops.local.job import EVENTS_FILE, JOB_FILE, LocalJob, append_event
from ops.local.models import ModelFor
from ops.web.previews import DATA_SUFFIXES, PreviewError, preview
from ops.web.runners import LocalRunner, Runner

UPLOADS = ".uploads"
SAFE_NAME = re.compile(r"^[^/\\\x00]{1,200}$")


MAX_UPLOAD_BYTES = 200 * 1024 * 1024
"""What one dropped file may hold; a bigger one is a job for `deep-insight run --data FILE`."""


class JobError(ValueError):
    """A request the console refuses; the message says what to change."""

    status = 400


class UploadTooLarge(JobError):
    status = 413


def too_large(name: str) -> str:
    return (
        f"{name} is larger than the {MAX_UPLOAD_BYTES // 1024 // 1024} MiB the console takes; "
        f"run it with `deep-insight run --data {name}` instead"
    )


@dataclass
class Watched:
    """A job this server started: its events so far, and a condition pages wait on for the next."""

    job: LocalJob
    events: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    task: asyncio.Task | None = None

    @property
    def finished(self) -> bool:
        return bool(self.events) and self.events[-1].get("type") in TERMINAL


@dataclass
class Jobs:
    root: Path
    """The runs folder: one folder per session, as ``deep-insight run`` makes them."""
    model_for: Callable[[], ModelFor]
    """Fresh models for each job (a scripted model's turns are used up by one job); unused in a stack."""
    runner: Runner = field(default_factory=LocalRunner)
    running: dict[str, Watched] = field(default_factory=dict)

    async def upload(self, name: str, chunks: AsyncIterator[bytes], declared: int | None) -> dict[str, Any]:
        """Stage a file for the next job from the request's body as it arrives; its preview, with the id to
        start the job with. Past ``MAX_UPLOAD_BYTES`` (declared or counted: a chunked body declares
        nothing) reading stops and nothing of the file is kept."""
        if not SAFE_NAME.match(name) or name in (".", ".."):
            raise JobError(f"{name!r} is not a plain file name")
        if not name.lower().endswith(DATA_SUFFIXES):
            raise JobError(f"{name}: give a CSV or Excel (.xlsx) file")
        if declared is not None and declared > MAX_UPLOAD_BYTES:
            raise UploadTooLarge(too_large(name))
        token = secrets.token_hex(8)
        folder = self.root / UPLOADS / token
        folder.mkdir(parents=True)
        path = folder / name
        try:
            received = 0
            with path.open("wb") as handle:
                async for chunk in chunks:
                    received += len(chunk)
                    if received > MAX_UPLOAD_BYTES:
                        raise UploadTooLarge(too_large(name))
                    handle.write(chunk)
            shown = await asyncio.to_thread(preview, path)
        except PreviewError as error:
            shutil.rmtree(folder, ignore_errors=True)
            raise JobError(str(error)) from None
        except BaseException:  # too large, or the page went away mid-file: no half file stays staged
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return {"id": f"{token}/{name}", **shown}

    def _staged(self, upload_id: str) -> Path:
        token, _, name = upload_id.partition("/")
        path = self.root / UPLOADS / token / name
        if not re.fullmatch(r"[0-9a-f]{16}", token) or not SAFE_NAME.match(name) or not path.is_file():
            raise JobError(f"no uploaded file {upload_id!r}; drop the file again")
        return path

    async def start(self, question: str, uploads: list[str], language: str | None, review: bool) -> str:
        if not question.strip():
            raise JobError("write a question first")
        if not uploads:
            raise JobError("drop at least one CSV or Excel file")
        files = [self._staged(upload) for upload in uploads]
        names = [path.name for path in files]
        if len(set(names)) < len(names):
            raise JobError("two files share a name; rename one (the job's inputs share a folder)")
        session_id = new_session_id()
        job = LocalJob(question.strip(), files, self.root / session_id, session_id, self.model_for(), language, review)
        watched = Watched(job)
        self.running[session_id] = watched

        def show(event: dict[str, Any]) -> None:
            watched.events.append(event)
            asyncio.get_running_loop().create_task(self._notify(watched))

        async def run() -> None:
            try:
                await self.runner.run(job, show)
            except asyncio.CancelledError:
                show(make_event(EventType.ERROR, session_id, message="cancelled in the console", retryable=False))
                append_event(job, watched.events[-1])
            except Exception as error:  # the executor did not start, say; the page must hear of it
                show(make_event(EventType.ERROR, session_id, message=str(error), retryable=False))
                append_event(job, watched.events[-1])
            finally:
                for path in files:  # the job has its own copy of its inputs by now (or never will)
                    shutil.rmtree(path.parent, ignore_errors=True)

        watched.task = asyncio.get_running_loop().create_task(run())
        return session_id

    @staticmethod
    async def _notify(watched: Watched) -> None:
        async with watched.changed:
            watched.changed.notify_all()

    async def cancel(self, session_id: str) -> None:
        watched = self.running.get(session_id)
        if watched is None or watched.task is None or watched.task.done():
            raise JobError(f"no running job {session_id}")
        watched.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watched.task

    def decide(self, session_id: str, decision: dict[str, str]) -> None:
        watched = self.running.get(session_id)
        asked = [e for e in (watched.events if watched else []) if e.get("type") == EventType.PLAN_REVIEW]
        if not asked:
            raise JobError(f"job {session_id} is not waiting for a plan decision")
        if decision.get("action") not in ("approve", "revise"):
            raise JobError('the decision is {"action": "approve"} or {"action": "revise", "plan": "..."}')
        self.runner.decide(asked[-1], decision)

    async def events(self, session_id: str) -> AsyncIterator[dict[str, Any]]:
        """Every event of the job so far, then each new one until its terminal event."""
        watched = self.running.get(session_id)
        if watched is None:
            for event in self._stored_events(session_id):
                yield event
            return
        sent = 0
        while True:
            async with watched.changed:
                await watched.changed.wait_for(lambda sent=sent: len(watched.events) > sent)
            for event in watched.events[sent:]:
                yield event
            sent = len(watched.events)
            if watched.finished:
                return

    def folder(self, session_id: str) -> Path:
        folder = self.root / session_id
        if not is_session_id(session_id):
            raise JobError(f"{session_id!r} is not a session id")
        if not (folder / JOB_FILE).is_file():
            try:  # a job of the stack that this console has not seen: its artifacts come down once
                self.runner.fetch(session_id, folder)
            except Exception:
                raise JobError(f"no job {session_id} in {self.root} or {self.runner.where}") from None
        return folder

    def record(self, session_id: str) -> dict[str, Any]:
        """What the job's ``job.json`` says (its session id from its folder); {} where it says nothing readable."""
        return {
            **_json_object((self.folder(session_id) / JOB_FILE).read_text(encoding="utf-8")),
            "sessionId": session_id,
        }

    def _stored_events(self, session_id: str) -> list[dict[str, Any]]:
        path = self.folder(session_id) / EVENTS_FILE
        if not path.is_file():
            return []
        lines = path.read_text(encoding="utf-8").splitlines()
        return [event for event in map(_json_object, lines) if isinstance(event.get("type"), str)]

    def history(self) -> list[dict[str, Any]]:
        """Every job in the runs folder, newest first (session ids sort by start time)."""
        listed = []
        for path in sorted(self.root.glob("*/" + JOB_FILE), reverse=True):
            session_id = path.parent.name
            if not is_session_id(session_id):
                continue
            watched = self.running.get(session_id)
            events = watched.events if watched else self._stored_events(session_id)
            last = events[-1]["type"] if events else None
            state = last if last in ("complete", "error") else ("running" if watched else "stopped")
            listed.append({**self.record(session_id), "state": state})
        here = {job["sessionId"] for job in listed}
        listed += [job for job in self.runner.remote() if job["sessionId"] not in here]
        return sorted(listed, key=lambda job: job["sessionId"], reverse=True)


def _json_object(text: str) -> dict[str, Any]:
    """A line or file of JSON as an object; anything else (a half-written line, say) as {}."""
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
