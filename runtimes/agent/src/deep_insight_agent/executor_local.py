"""A session on an executor that runs on this machine (``deep-insight run``, the console's local mode, the
agent's ``--local-executor``, tests): nothing to start in AWS, but the session is checked on the way in and
ended on the way out, so repeated jobs do not pile up sessions until the executor refuses new ones (429)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
from deep_insight_contract.executor import HEALTH_PATH, SESSIONS_PATH

from deep_insight_agent.executor_session import ExecutorSession, ExecutorStartError, Notify

log = logging.getLogger("deep_insight_agent.executor")

CHECK_SECONDS = 5.0


def _no_report(message: str) -> None:
    return None


@dataclass
class LocalExecutorSession:
    url: str
    session_id: str
    token: str | None = None
    report: Notify = _no_report
    """Where a session that could not be ended is told (the job's stream, as a status event)."""

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def __aenter__(self) -> ExecutorSession:
        base = self.url.rstrip("/")
        try:
            async with httpx.AsyncClient(timeout=CHECK_SECONDS) as http:
                answer = await http.get(f"{base}{HEALTH_PATH}")
        except httpx.HTTPError as error:
            raise ExecutorStartError(
                f"the executor at {base} is not reachable ({type(error).__name__}: {error or 'no answer'}); "
                "start it (deep-insight-executor) or fix the URL"
            ) from None
        if answer.status_code != 200:
            raise ExecutorStartError(f"the executor at {base} answered {HEALTH_PATH} with {answer.status_code}")
        return ExecutorSession(self.session_id, base, self._headers())

    async def __aexit__(self, *exc: object) -> None:
        base = self.url.rstrip("/")
        try:
            async with httpx.AsyncClient(timeout=CHECK_SECONDS) as http:
                answer = await http.delete(f"{base}{SESSIONS_PATH}/{self.session_id}", headers=self._headers())
            if answer.status_code not in (204, 404):  # 404: the executor had already let it go
                raise httpx.HTTPStatusError(f"{answer.status_code}", request=answer.request, response=answer)
        except httpx.HTTPError as error:
            message = f"executor session {self.session_id} at {base} was not ended: {error}"
            log.warning(message)
            self.report(message)
