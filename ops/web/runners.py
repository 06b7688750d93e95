"""Where the console's jobs run: on this machine (``LocalRunner``, as ``deep-insight run``) or in a deployed
stack (``StackRunner``, as ``deep-insight invoke``: inputs to the artifacts bucket, the AgentCore runtime's
event stream, each artifact downloaded as it is announced). Both put the job's folder in the same shape."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from deep_insight_agent.events import make_event
from deep_insight_contract.events import TERMINAL, EventType
from deep_insight_contract.session import is_session_id
from deep_insight_contract.storage import artifacts_prefix

from ops.local.job import EVENTS_FILE, JOB_FILE, LocalJob, append_event, record_job, run_local_async, write_decision

Show = Callable[[dict[str, Any]], None]
SESSIONS = "sessions/"
CONSOLE_RECORD = "console.json"
"""``sessions/<id>/console.json`` in the bucket: what a console job asked and who asked it (``startedBy``,
the caller's AWS identity), for the history of the stack."""
OWN_FILES = (JOB_FILE, EVENTS_FILE)
"""The console's own records in a job's folder: never taken from a session's artifacts of the same name."""


class Runner(Protocol):
    @property
    def where(self) -> str:
        """Where the jobs run, for people: "this machine", "stack dev"."""
        ...

    async def run(self, job: LocalJob, show: Show) -> None: ...

    def decide(self, event: dict[str, Any], decision: dict[str, str]) -> None: ...

    def remote(self) -> list[dict[str, Any]]:
        """Jobs that exist elsewhere (the stack's bucket) with no folder here yet."""
        ...

    def fetch(self, session_id: str, folder: Path) -> None:
        """Bring such a job's record and artifacts into ``folder``."""
        ...


@dataclass
class LocalRunner:
    @property
    def where(self) -> str:
        return "this machine"

    async def run(self, job: LocalJob, show: Show) -> None:
        await run_local_async(job, show)

    def decide(self, event: dict[str, Any], decision: dict[str, str]) -> None:
        write_decision(event, decision)

    def remote(self) -> list[dict[str, Any]]:
        return []

    def fetch(self, session_id: str, folder: Path) -> None:
        raise LookupError(session_id)


@dataclass
class StackRunner:
    """Jobs in a deployed stack. The bucket holds every session of the stack, started by anyone; the console
    lists, and brings down, only those a console started for the same AWS identity as this one's
    (``caller``): a page, or a link in a report, that names another session's id gets nothing."""

    stack: str
    outputs: dict[str, Any]
    s3: Any
    agentcore: Any
    caller: str
    """The AWS identity (STS caller ARN) the console runs as."""
    streams: dict[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"stack {self.stack}"

    @property
    def bucket(self) -> str:
        return self.outputs["artifactBucket"]

    async def run(self, job: LocalJob, show: Show) -> None:
        loop = asyncio.get_running_loop()
        record_job(job)

        def relay(event: dict[str, Any]) -> None:
            append_event(job, event)
            loop.call_soon_threadsafe(show, event)

        worker = loop.run_in_executor(None, self._run, job, relay)
        try:
            await asyncio.shield(worker)
        except asyncio.CancelledError:
            # Closing the stream is how a caller stops an AgentCore job: the runtime cleans up its executor.
            stream = self.streams.pop(job.session_id, None)
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(worker), 30)
            raise

    def _run(self, job: LocalJob, show: Show) -> None:
        """The job, in a worker thread: boto3's stream is blocking."""
        from ops.invoke.job import QUALIFIER  # noqa: PLC0415
        from ops.invoke.sse import read_chunks, stream_events  # noqa: PLC0415
        from ops.invoke.transfers import upload_inputs  # noqa: PLC0415

        record = {
            "sessionId": job.session_id, "question": job.question, "data": [p.name for p in job.data],
            "startedBy": self.caller,
        }  # fmt: skip
        self.s3.put_object(
            Bucket=self.bucket, Key=f"{SESSIONS}{job.session_id}/{CONSOLE_RECORD}",
            Body=json.dumps(record, ensure_ascii=False).encode("utf-8"),
        )  # fmt: skip
        uris = upload_inputs(self.s3, self.bucket, job.session_id, job.data)
        response = self.agentcore.invoke_agent_runtime(
            agentRuntimeArn=self.outputs["agentRuntimeArn"], runtimeSessionId=job.session_id, qualifier=QUALIFIER,
            contentType="application/json", accept="text/event-stream",
            payload=json.dumps({**job.payload(), "data": uris}, ensure_ascii=False).encode("utf-8"),
        )  # fmt: skip
        body = response["response"]
        self.streams[job.session_id] = body
        try:
            for event in stream_events(read_chunks(body), job.session_id, lambda message: None):
                if event["type"] == EventType.ARTIFACT and event.get("s3Uri"):
                    self._download_artifact(job, str(event["name"]), str(event["s3Uri"]))
                show(event)
                if event["type"] in TERMINAL:
                    return
            show(make_event(EventType.ERROR, job.session_id, message="the stream ended without a result"))
        except Exception as error:
            if job.session_id in self.streams:  # not closed by a cancel
                show(make_event(EventType.ERROR, job.session_id, message=f"the event stream broke: {error}"))
        finally:
            self.streams.pop(job.session_id, None)
            with contextlib.suppress(Exception):
                body.close()

    def _download_artifact(self, job: LocalJob, name: str, uri: str) -> None:
        """An announced artifact into the job's folder, if it is one of this session's in the stack's bucket
        and its name (the model's choice) stays inside the folder without replacing the console's records."""
        from ops.invoke.transfers import download_object  # noqa: PLC0415

        path = PurePosixPath(name)
        key = f"{artifacts_prefix(job.session_id)}{name}"
        inside = bool(path.parts) and not path.is_absolute() and ".." not in path.parts and "\\" not in name
        if not inside or name in OWN_FILES or uri != f"s3://{self.bucket}/{key}":
            return
        download_object(self.s3, self.bucket, key, job.target.joinpath(*path.parts))

    def decide(self, event: dict[str, Any], decision: dict[str, str]) -> None:
        bucket, key = str(event["decisionUri"]).removeprefix("s3://").split("/", 1)
        self.s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(decision, ensure_ascii=False).encode("utf-8"))

    def remote(self) -> list[dict[str, Any]]:
        listed = []
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=SESSIONS, Delimiter="/")
        for page in pages:
            for prefix in page.get("CommonPrefixes", []):
                record = self._mine(prefix["Prefix"].removeprefix(SESSIONS).rstrip("/"))
                if record is not None:
                    listed.append({**record, "state": "stored"})
        return listed

    def _mine(self, session_id: str) -> dict[str, Any] | None:
        """The session's id and question, if a console started it for this caller; else None."""
        if not is_session_id(session_id):
            return None
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=f"{SESSIONS}{session_id}/{CONSOLE_RECORD}")["Body"]
            record = json.loads(body.read())
        except Exception:  # no record (not a console's job), or not one a console wrote
            return None
        if not isinstance(record, dict) or record.get("startedBy") != self.caller:
            return None
        return {"sessionId": session_id, "question": str(record.get("question") or "")}

    def fetch(self, session_id: str, folder: Path) -> None:
        from ops.invoke.transfers import download_artifacts  # noqa: PLC0415

        record = self._mine(session_id)
        if record is None:
            raise LookupError(f"{session_id} is not a console job of {self.caller}")
        folder.mkdir(parents=True, exist_ok=True)
        download_artifacts(self.s3, self.bucket, session_id, folder, [], warn=lambda message: None)
        for name in OWN_FILES:  # an artifact by that name would pose as the job's record or timeline
            (folder / name).unlink(missing_ok=True)
        (folder / JOB_FILE).write_text(
            json.dumps({**record, "data": []}, ensure_ascii=False, indent=2), encoding="utf-8"
        )
