"""Plan review: the planner's plan goes to a person, and the job waits, bounded, for their decision."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from deep_insight_contract.events import EventType
from deep_insight_contract.storage import plan_review_key

from deep_insight_agent.events import make_event
from deep_insight_agent.payload import Invocation
from deep_insight_agent.presign import s3_client

if TYPE_CHECKING:
    from deep_insight_agent.workflow import WorkflowDeps


class PlanReviewCancelled(Exception):
    """Nobody decided on the plan in time and the payload said planReviewOnTimeout: cancel."""


async def plan_review(
    invocation: Invocation, session_id: str, deps: WorkflowDeps, notes: list[str]
) -> AsyncGenerator[dict[str, Any]]:
    """Show the planner's plan and wait, bounded, for a person's decision in S3 (plan_review_key).

    Why S3 and not a second invocation of the AgentCore session: AgentCore sends a session's invocations
    to the microVM that is busy streaming this job, and the runtime runs one job per session at a time;
    the session's S3 prefix is already the channel between the caller and the job (inputs, artifacts),
    the runtime's role may read it, and the caller's credentials may write it.
    """
    if deps.s3 is None:
        deps.s3 = s3_client()
    bucket, key = deps.artifact_bucket, plan_review_key(session_id)
    await asyncio.to_thread(deps.s3.delete_object, Bucket=bucket, Key=key)  # no decision from an earlier run
    plan = notes[-1].split("\n", 1)[-1]
    yield make_event(
        EventType.PLAN_REVIEW,
        session_id,
        plan=plan,
        decisionUri=f"s3://{bucket}/{key}",
        timeoutSeconds=invocation.plan_review_timeout_seconds,
        onTimeout=invocation.plan_review_on_timeout,
    )

    def read_decision() -> bytes:
        return deps.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    deadline = time.monotonic() + invocation.plan_review_timeout_seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(min(deps.review_poll_seconds, max(deadline - time.monotonic(), 0)))
        try:
            body = await asyncio.to_thread(read_decision)
        except deps.s3.exceptions.NoSuchKey:
            continue
        await asyncio.to_thread(deps.s3.delete_object, Bucket=bucket, Key=key)
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
