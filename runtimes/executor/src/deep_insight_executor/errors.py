"""Error answers: one JSON body for every 4xx/5xx (the contract's ErrorBody), raised as exceptions."""

from __future__ import annotations

from collections.abc import Mapping

from deep_insight_contract.executor import ErrorBody, FieldProblem, InvalidBody
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from deep_insight_executor.paths import PathChanged, PathError
from deep_insight_executor.sessions import SessionLimitError, SessionStartError
from deep_insight_executor.transfers import SyncError

ROUTER_MESSAGES = {404: "no such route", 405: "method not allowed"}
"""What Starlette's router raises (a plain HTTPException) says in our words."""


class ApiError(HTTPException):
    """An answer other than success: ``raise ApiError(404, "'x' not found")``."""

    def __init__(
        self, status: int, message: str, *, fields: tuple[FieldProblem, ...] = (), hint: str | None = None
    ) -> None:
        super().__init__(status, message)
        self.body = ErrorBody(message, fields, hint)


def error_response(status: int, body: ErrorBody, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body.to_json(), status_code=status, headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if isinstance(exc, ApiError):
        return error_response(exc.status_code, exc.body, exc.headers)
    message = ROUTER_MESSAGES.get(exc.status_code, exc.detail)
    return error_response(exc.status_code, ErrorBody(message), exc.headers)


async def _invalid_body(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidBody)
    return error_response(422, ErrorBody(str(exc), exc.problems))


async def _path_error(request: Request, exc: Exception) -> Response:
    return error_response(409 if isinstance(exc, PathChanged) else 400, ErrorBody(str(exc)))


async def _sync_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SyncError)
    return error_response(exc.status, ErrorBody(str(exc)))


async def _session_limit(request: Request, exc: Exception) -> Response:
    return error_response(429, ErrorBody(str(exc)))


async def _session_start(request: Request, exc: Exception) -> Response:
    return error_response(503, ErrorBody(str(exc)))


EXCEPTION_HANDLERS = {
    HTTPException: _http_error,
    InvalidBody: _invalid_body,  # 422
    PathError: _path_error,  # 400: a path outside the workspace; 409: its folder changed while written
    SyncError: _sync_error,  # 400 for a bad path, 502 when S3 refused or failed a transfer
    SessionLimitError: _session_limit,  # 429: the executor already serves EXECUTOR_MAX_SESSIONS
    SessionStartError: _session_start,  # 503: a new session's folders could not be made (the disk is full)
}
