"""The AgentCore contract (SPEC §7) on the bedrock-agentcore SDK: ``POST /invocations`` streams the
events of one job; ``GET /ping`` says ``HealthyBusy`` (with ``time_of_last_update``) while a job runs,
so AgentCore does not reap a busy session."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from bedrock_agentcore.runtime import BedrockAgentCoreApp
from deep_insight_contract.events import EventType

from deep_insight_agent.events import KEEPALIVE_AFTER_SECONDS, guarded, make_event
from deep_insight_agent.payload import Invocation, PayloadError, parse_invocation, parse_session_id

log = logging.getLogger("deep_insight_agent.app")

# A job: the invocation and its session id in, SPEC §7 events out (ending in complete or error).
Job = Callable[[Invocation, str], AsyncIterator[dict[str, Any]]]


def create_app(
    job: Job,
    *,
    artifact_bucket: str | None,
    data_dirs: tuple[Path, ...] = (),
    keepalive_after: float = KEEPALIVE_AFTER_SECONDS,
) -> BedrockAgentCoreApp:
    app = BedrockAgentCoreApp()
    # AgentCore sends every invocation of a session to the same microVM, so this set sees them all: one job
    # per session at a time. The executor's task, target group and rule are per session; a second job would
    # share (and, at its end, remove) them. It also makes whatever a new job finds of its session leftover.
    running: set[str] = set()

    @app.entrypoint
    async def invocations(payload: Any, context: Any) -> AsyncIterator[dict[str, Any]]:
        raw_session = getattr(context, "session_id", None)
        # Until it is checked, the id is echoed escaped: control and non-ASCII characters (a header decoded
        # as Latin-1 may hold U+0085, a line break to some SSE clients) must not break the event's line.
        session_id = str(raw_session).encode("unicode_escape").decode("ascii") if raw_session else "unknown-session"
        try:
            session_id = parse_session_id(raw_session)
            invocation = parse_invocation(payload, artifact_bucket=artifact_bucket, data_dirs=data_dirs)
        except PayloadError as error:
            yield make_event(EventType.ERROR, session_id, message=str(error), retryable=False)
            return
        if session_id in running:
            message = "a job of this session is already running; wait for its result or use a new session id"
            yield make_event(EventType.ERROR, session_id, message=message, retryable=True)
            return
        running.add(session_id)
        task = app.add_async_task("job", {"sessionId": session_id})  # /ping: HealthyBusy until it ends
        try:
            async for event in guarded(job(invocation, session_id), session_id, keepalive_after=keepalive_after):
                yield event
        finally:
            running.discard(session_id)
            app.complete_async_task(task)

    return app
