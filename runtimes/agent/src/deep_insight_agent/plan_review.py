"""Plan review: the planner's plan goes to a person, and the job waits, bounded, for their decision."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

from deep_insight_contract.events import EventType
from deep_insight_contract.storage import plan_review_key

from deep_insight_agent.events import make_event
from deep_insight_agent.payload import Invocation
from deep_insight_agent.presign import s3_client

if TYPE_CHECKING:
    from deep_insight_agent.workflow import WorkflowDeps


class PlanReviewCancelled(Exception):
    """Nobody decided on the plan in time and the payload said planReviewOnTimeout: cancel."""


class DecisionBox(Protocol):
    """Where a person's decision on the plan arrives (``uri`` is what the plan_review event tells them)."""

    @property
    def uri(self) -> str: ...

    async def clear(self) -> None: ...

    async def take(self) -> bytes | None:
        """The decision, removed from the box; None while there is none."""
        ...


@dataclass
class S3DecisionBox:
    """``plan_review_key`` in the artifacts bucket (in AWS). Why S3 and not a second invocation of the
    AgentCore session: AgentCore sends a session's invocations to the microVM that is busy streaming this
    job, and the runtime runs one job per session at a time; the session's S3 prefix is already the channel
    between the caller and the job (inputs, artifacts), the runtime's role may read it, and the caller's
    credentials may write it."""

    s3: Any
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    async def clear(self) -> None:
        await asyncio.to_thread(self.s3.delete_object, Bucket=self.bucket, Key=self.key)

    async def take(self) -> bytes | None:
        def read() -> bytes | None:
            try:
                return self.s3.get_object(Bucket=self.bucket, Key=self.key)["Body"].read()
            except self.s3.exceptions.NoSuchKey:
                return None

        body = await asyncio.to_thread(read)
        if body is not None:
            await self.clear()
        return body


@dataclass
class FileDecisionBox:
    """A file on this machine (local runs: no bucket). Whoever decides writes it whole at once (a temporary
    file renamed into place), so a half-written decision is never read."""

    path: Path

    @property
    def uri(self) -> str:
        return self.path.resolve().as_uri()

    async def clear(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)

    async def take(self) -> bytes | None:
        try:
            body = self.path.read_bytes()
        except FileNotFoundError:
            return None
        await self.clear()
        return body


def decision_box(deps: WorkflowDeps, session_id: str) -> DecisionBox:
    if deps.artifact_bucket is None:
        return FileDecisionBox(deps.review_folder / session_id / PurePosixPath(plan_review_key(session_id)).name)
    if deps.s3 is None:
        deps.s3 = s3_client()
    return S3DecisionBox(deps.s3, deps.artifact_bucket, plan_review_key(session_id))


async def plan_review(
    invocation: Invocation, session_id: str, deps: WorkflowDeps, notes: list[str]
) -> AsyncGenerator[dict[str, Any]]:
    """Show the planner's plan and wait, bounded, for a person's decision (``decision_box``)."""
    box = decision_box(deps, session_id)
    await box.clear()  # no decision from an earlier run
    plan = notes[-1].split("\n", 1)[-1]
    yield make_event(
        EventType.PLAN_REVIEW,
        session_id,
        plan=plan,
        decisionUri=box.uri,
        timeoutSeconds=invocation.plan_review_timeout_seconds,
        onTimeout=invocation.plan_review_on_timeout,
    )
    deadline = time.monotonic() + invocation.plan_review_timeout_seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(min(deps.review_poll_seconds, max(deadline - time.monotonic(), 0)))
        body = await box.take()
        if body is None:
            continue
        try:
            decision = json.loads(body)
        except ValueError:
            decision = None
        action = decision.get("action") if isinstance(decision, dict) else None
        revised = decision.get("plan") if isinstance(decision, dict) else None
        if action == "approve":
            yield make_event(EventType.STATUS, session_id, phase="plan approved")
            return
        if action == "revise" and isinstance(revised, str) and revised.strip():
            notes[-1] = f"planner said (revised by a person; follow this plan):\n{revised.strip()}"
            yield make_event(EventType.STATUS, session_id, phase="plan revised by a person")
            return
        yield make_event(
            EventType.STATUS,
            session_id,
            phase='plan review: the decision is not {"action": "approve"} or {"action": "revise", "plan": "..."}; '
            "still waiting",
        )
    waited = invocation.plan_review_timeout_seconds
    if invocation.plan_review_on_timeout == "cancel":
        raise PlanReviewCancelled(f"nobody decided on the plan within {waited} s; the job was cancelled")
    yield make_event(
        EventType.STATUS, session_id, phase=f"plan review timed out after {waited} s; proceeding with the plan"
    )
