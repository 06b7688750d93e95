"""Where the console's jobs run: on this machine (``LocalRunner``, as ``deep-insight run``) or in a deployed
stack (``StackRunner``, as ``deep-insight invoke``: inputs to the artifacts bucket, the AgentCore runtime's
event stream, each artifact downloaded as it is announced). Both put the job's folder in the same shape."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from deep_insight_agent.events import make_event
from deep_insight_contract.events import TERMINAL, EventType

from ops.local.job import JOB_FILE, LocalJob, append_event, record_job, run_local_async, write_decision

Show = Callable[[dict[str, Any]], None]
SESSIONS = "sessions/"
CONSOLE_RECORD = "console.json"
"""``sessions/<id>/console.json`` in the bucket: what a console job asked, for the history of the stack."""


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
    stack: str
    outputs: dict[str, Any]
    s3: Any
    agentcore: Any
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

        record = {"sessionId": job.session_id, "question": job.question, "data": [p.name for p in job.data]}
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
                    self._download(str(event["s3Uri"]), job.target / str(event["name"]))
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

    def _download(self, uri: str, destination: Path) -> None:
        from ops.invoke.transfers import download_object  # noqa: PLC0415

        bucket, key = uri.removeprefix("s3://").split("/", 1)
        download_object(self.s3, bucket, key, destination)

    def decide(self, event: dict[str, Any], decision: dict[str, str]) -> None:
        bucket, key = str(event["decisionUri"]).removeprefix("s3://").split("/", 1)
        self.s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(decision, ensure_ascii=False).encode("utf-8"))

    def remote(self) -> list[dict[str, Any]]:
        listed = []
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=SESSIONS, Delimiter="/")
        for page in pages:
            for prefix in page.get("CommonPrefixes", []):
                session_id = prefix["Prefix"].removeprefix(SESSIONS).rstrip("/")
                listed.append({"sessionId": session_id, "question": self._question(session_id), "state": "stored"})
        return listed

    def _question(self, session_id: str) -> str:
        with contextlib.suppress(Exception):
            body = self.s3.get_object(Bucket=self.bucket, Key=f"{SESSIONS}{session_id}/{CONSOLE_RECORD}")["Body"]
            return str(json.loads(body.read())["question"])
        return ""

    def fetch(self, session_id: str, folder: Path) -> None:
        from ops.invoke.transfers import download_artifacts  # noqa: PLC0415

        folder.mkdir(parents=True, exist_ok=True)
        record = {"sessionId": session_id, "question": self._question(session_id), "data": []}
        download_artifacts(self.s3, self.bucket, session_id, folder, [], warn=lambda message: None)
        (folder / JOB_FILE).write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
