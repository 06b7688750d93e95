"""The agent's side of the executor API (SPEC §6), over the session's route (ALB or a local URL)."""

from __future__ import annotations

import httpx
from deep_insight_contract.executor import (
    SESSIONS_PATH,
    ErrorBody,
    ExecuteRequest,
    ExecuteResult,
    FileEntry,
    Language,
    StoredFile,
    SyncDirection,
    SyncRequest,
    SyncResult,
    Transfer,
)

from deep_insight_agent.executor_session import ExecutorSession

# The longest call is 900 s of code; the HTTP read waits a little longer than the executor's own timeout.
READ_MARGIN_SECONDS = 30.0


class ExecutorError(RuntimeError):
    """The executor answered with an error status; ``status`` is the HTTP status, ``body`` its JSON error
    body when it sent one (``body.fields`` names each bad field of a 422)."""

    def __init__(self, status: int, message: str, body: ErrorBody | None = None) -> None:
        super().__init__(f"executor answered {status}: {message}")
        self.status = status
        self.body = body


class ExecutorClient:
    """``async with ExecutorClient(session) as executor: await executor.execute("print(1)")``"""

    def __init__(self, session: ExecutorSession, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.session = session
        self._http = httpx.AsyncClient(
            base_url=f"{session.base_url}{SESSIONS_PATH}",
            headers=session.headers,
            # Connection failures (a target not yet in service) are retried; requests are not repeated.
            transport=transport or httpx.AsyncHTTPTransport(retries=3),
            timeout=httpx.Timeout(60.0),
        )

    async def __aenter__(self) -> ExecutorClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    def _path(self, suffix: str = "") -> str:
        return f"/{self.session.session_id}{suffix}"

    @staticmethod
    def _checked(response: httpx.Response) -> httpx.Response:
        if response.status_code >= 400:
            try:
                body = ErrorBody.from_json(response.json())
            except (ValueError, TypeError, KeyError, AttributeError):  # not the executor's JSON error body
                raise ExecutorError(response.status_code, response.text[:500]) from None
            raise ExecutorError(response.status_code, body.error[:500], body)
        return response

    async def execute(
        self, code: str, *, language: Language = Language.PYTHON, timeout_seconds: float = 120.0
    ) -> ExecuteResult:
        """Run code; errors in it are in the result (``result.error.type``: an ``ErrorType`` of the contract
        for the executor's own, such as a timeout or a crashed worker, else the Python exception's name)."""
        response = await self._http.post(
            self._path("/execute"),
            json=ExecuteRequest(code, language, timeout_seconds).to_json(),
            timeout=httpx.Timeout(60.0, read=timeout_seconds + READ_MARGIN_SECONDS),
        )
        return ExecuteResult.from_json(self._checked(response).json())

    async def put_file(self, path: str, content: bytes) -> StoredFile:
        return StoredFile.from_json(
            self._checked(await self._http.put(self._path(f"/files/{path}"), content=content)).json()
        )

    async def list_files(self) -> list[FileEntry]:
        return [
            FileEntry.from_json(f) for f in self._checked(await self._http.get(self._path("/files"))).json()["files"]
        ]

    async def get_file(self, path: str) -> bytes:
        return self._checked(await self._http.get(self._path(f"/files/{path}"))).content

    async def sync(self, direction: SyncDirection, files: tuple[Transfer, ...]) -> SyncResult:
        """Move each file between its workspace path and its presigned URL (``presign.SessionPresigner``)."""
        response = await self._http.post(
            self._path("/sync"),
            json=SyncRequest(direction, files).to_json(),
            timeout=httpx.Timeout(600.0),
        )
        return SyncResult.from_json(self._checked(response).json())

    async def end(self) -> None:
        """Ask the executor to release the session (a pinned executor then exits and its task stops)."""
        response = await self._http.delete(self._path())
        if response.status_code != 204:
            raise ExecutorError(response.status_code, response.text[:500])
