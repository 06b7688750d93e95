"""The agent's side of the executor API (SPEC §6), over the session's route (ALB or a local URL)."""

from __future__ import annotations

from typing import Any

import httpx

from deep_insight_agent.executor_session import ExecutorSession

# The longest call is 900 s of code; the HTTP read waits a little longer than the executor's own timeout.
READ_MARGIN_SECONDS = 30.0


class ExecutorError(RuntimeError):
    """The executor answered with an error status; ``status`` is the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"executor answered {status}: {message}")
        self.status = status


class ExecutorClient:
    """``async with ExecutorClient(session) as executor: await executor.execute("print(1)")``"""

    def __init__(self, session: ExecutorSession, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.session = session
        self._http = httpx.AsyncClient(
            base_url=f"{session.base_url}/v1/sessions",
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
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            raise ExecutorError(response.status_code, str(message)[:500])
        return response

    async def execute(self, code: str, *, language: str = "python", timeout_seconds: float = 120.0) -> dict[str, Any]:
        response = await self._http.post(
            self._path("/execute"),
            json={"code": code, "language": language, "timeoutSeconds": timeout_seconds},
            timeout=httpx.Timeout(60.0, read=timeout_seconds + READ_MARGIN_SECONDS),
        )
        return self._checked(response).json()

    async def put_file(self, path: str, content: bytes) -> dict[str, Any]:
        return self._checked(await self._http.put(self._path(f"/files/{path}"), content=content)).json()

    async def list_files(self) -> list[dict[str, Any]]:
        return self._checked(await self._http.get(self._path("/files"))).json()["files"]

    async def get_file(self, path: str) -> bytes:
        return self._checked(await self._http.get(self._path(f"/files/{path}"))).content

    async def sync(self, direction: str, s3_uri: str, path: str) -> dict[str, Any]:
        response = await self._http.post(
            self._path("/sync"),
            json={"direction": direction, "s3Uri": s3_uri, "path": path},
            timeout=httpx.Timeout(600.0),
        )
        return self._checked(response).json()

    async def end(self) -> None:
        """Ask the executor to release the session (a pinned executor then exits and its task stops)."""
        response = await self._http.delete(self._path())
        if response.status_code != 204:
            raise ExecutorError(response.status_code, response.text[:500])
