"""What the app shares between requests: the sessions, and whether it still takes work."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from starlette.requests import Request

from deep_insight_executor.config import ExecutorConfig
from deep_insight_executor.sessions import SessionManager

log = logging.getLogger("deep_insight_executor.http")


class ExecutorState:
    def __init__(self, config: ExecutorConfig, request_exit: Callable[[], None] | None = None) -> None:
        self.config = config
        self.finished = False
        self.shutting_down = False
        self.started = time.monotonic()
        self._request_exit = request_exit
        self.sessions = SessionManager(config, on_pinned_session_end=self.finish)

    def finish(self, reason: str) -> None:
        """The pinned session is over: answer 503 to health checks and let the process exit."""
        if self.finished:
            return
        self.finished = True
        log.info(f"executor finished: {reason}", extra={"event": "finished"})
        if self._request_exit is not None:
            asyncio.get_running_loop().call_later(1.0, self._request_exit)


def state_of(request: Request) -> ExecutorState:
    return request.app.state.executor
