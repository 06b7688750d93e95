"""The HTTP API of SPEC §6 (Starlette, served by uvicorn)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deep_insight_contract.session import SESSION_ID_RULE, is_session_id
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deep_insight_executor import logs
from deep_insight_executor.config import MAX_CALL_TIMEOUT_SECONDS, ExecutorConfig
from deep_insight_executor.paths import PathError, resolve_inside
from deep_insight_executor.s3sync import S3Sync, SyncError
from deep_insight_executor.sessions import Session, SessionLimitError, SessionManager

log = logging.getLogger("deep_insight_executor.http")
EXPIRY_INTERVAL_SECONDS = 5.0


def problem(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


class ExecutorState:
    """What the app shares between requests: the sessions, and whether it still takes work."""

    def __init__(self, config: ExecutorConfig, request_exit: Callable[[], None] | None = None) -> None:
        self.config = config
        self.finished = False
        self.shutting_down = False
        self.started = time.monotonic()
        self._request_exit = request_exit
        self.sessions = SessionManager(config, on_pinned_session_end=self.finish)
        self.s3 = S3Sync(config.artifact_bucket, page_size=config.s3_page_size)

    def finish(self, reason: str) -> None:
        """The pinned session is over: answer 503 to health checks and let the process exit."""
        if self.finished:
            return
        self.finished = True
        log.info(f"executor finished: {reason}", extra={"event": "finished"})
        if self._request_exit is not None:
            asyncio.get_running_loop().call_later(1.0, self._request_exit)


def _state(request: Request) -> ExecutorState:
    return request.app.state.executor


class AuthAndLogging:
    """Pure ASGI middleware (no per-request task or body buffering): bearer check on /v1/*, one JSON
    log line per request carrying its session id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        session = _session_from_path(path)
        started = time.monotonic()
        status = 500
        token = logs.current_session.set(session)

        async def send_and_remember(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if path.startswith("/v1/") and not self._authorized(scope):
                response = problem(
                    401, "missing or wrong bearer token", hint="send Authorization: Bearer <EXECUTOR_TOKEN>"
                )
                await response(scope, receive, send_and_remember)
            else:
                await self.app(scope, receive, send_and_remember)
        finally:
            logs.current_session.reset(token)
            if path != "/health":
                log.info(
                    f"{scope['method']} {path} {status}",
                    extra={
                        "session": session,
                        "method": scope["method"],
                        "path": path,
                        "status": status,
                        "durationMs": int((time.monotonic() - started) * 1000),
                    },
                )

    def _authorized(self, scope: Scope) -> bool:
        expected = scope["app"].state.executor.config.token
        if expected is None:
            return True
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, given = header.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(given, expected.encode())


def _session_from_path(path: str) -> str | None:
    parts = path.split("/")
    return parts[3] if len(parts) > 3 and parts[1] == "v1" and parts[2] == "sessions" else None


def _session_id(request: Request) -> str | JSONResponse:
    sid = request.path_params["sid"]
    pinned = _state(request).config.session_id
    if not is_session_id(sid):
        return problem(400, f"bad session id; use {SESSION_ID_RULE}")
    if pinned is not None and sid != pinned:
        return problem(403, "this executor serves another session")
    if _state(request).finished or _state(request).shutting_down:
        return problem(503, "this executor is finished or shutting down")
    return sid


async def _open_session(request: Request, sid: str) -> Session | JSONResponse:
    """The session, created on first use; 429 when the executor already serves its maximum."""
    try:
        session = await _state(request).sessions.get(sid)
    except SessionLimitError as error:
        return problem(429, str(error))
    assert session is not None
    return session


async def health(request: Request) -> JSONResponse:
    state = _state(request)
    if state.finished or state.shutting_down:
        status = "finished" if state.finished else "shutting_down"
        return JSONResponse({"status": status, "sessions": len(state.sessions)}, status_code=503)
    return JSONResponse({"status": "ok", "sessions": len(state.sessions)})


async def _json_body(request: Request) -> dict[str, Any] | JSONResponse:
    raw = await request.body()
    try:
        body = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return problem(400, "the body is not valid JSON")
    if not isinstance(body, dict):
        return problem(400, "the body must be a JSON object")
    return body


def _field_errors(body: dict[str, Any], spec: dict[str, tuple[type | tuple[type, ...], bool]]) -> list[dict]:
    errors = []
    for name, (kinds, required) in spec.items():
        if name not in body:
            if required:
                errors.append({"field": name, "problem": "required"})
            continue
        value = body[name]
        if (
            isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,))
        ) or not isinstance(value, kinds):
            errors.append({"field": name, "problem": "wrong type"})
    return errors


async def _session_and_body(request: Request) -> tuple[str, dict[str, Any]] | JSONResponse:
    """The checked session id and the JSON object body of a call, or the error answer."""
    sid = _session_id(request)
    if isinstance(sid, JSONResponse):
        return sid
    body = await _json_body(request)
    if isinstance(body, JSONResponse):
        return body
    return sid, body


async def execute(request: Request) -> Response:
    checked = await _session_and_body(request)
    if isinstance(checked, JSONResponse):
        return checked
    sid, body = checked
    errors = _field_errors(
        body, {"code": (str, True), "language": (str, False), "timeoutSeconds": ((int, float), False)}
    )
    language = body.get("language", "python")
    if not errors and language not in ("python", "bash"):
        errors.append({"field": "language", "problem": "must be python or bash"})
    config = _state(request).config
    timeout = body.get("timeoutSeconds", config.default_call_timeout_seconds)
    if not errors and (not math.isfinite(timeout) or not 0 < timeout <= MAX_CALL_TIMEOUT_SECONDS):
        errors.append({"field": "timeoutSeconds", "problem": f"must be > 0 and <= {MAX_CALL_TIMEOUT_SECONDS:g}"})
    if errors:
        return problem(422, "invalid request body", fields=errors)
    session = await _open_session(request, sid)
    if isinstance(session, JSONResponse):
        return session
    result = await session.execute(body["code"], language, float(timeout))
    return JSONResponse(result.to_json())


async def put_file(request: Request) -> Response:
    sid = _session_id(request)
    if isinstance(sid, JSONResponse):
        return sid
    state = _state(request)
    limit = state.config.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return problem(413, f"upload larger than {limit} bytes (EXECUTOR_MAX_UPLOAD_BYTES)")
    session = await _open_session(request, sid)
    if isinstance(session, JSONResponse):
        return session
    try:
        target = resolve_inside(session.workspace, request.path_params["path"])
    except PathError as error:
        return problem(400, str(error))
    if target.is_dir():
        return problem(400, f"{request.path_params['path']!r} is a directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as sink:
            async for chunk in request.stream():
                written += len(chunk)
                if written > limit:
                    raise OverflowError
                sink.write(chunk)
        os.replace(temporary, target)
    except OverflowError:
        os.unlink(temporary)
        return problem(413, f"upload larger than {limit} bytes (EXECUTOR_MAX_UPLOAD_BYTES)")
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    if session.owner is not None:
        for folder in [target, *[p for p in target.parents if session.workspace in p.parents]]:
            with contextlib.suppress(OSError):
                os.chown(folder, *session.owner)
    return JSONResponse(
        {"path": target.relative_to(session.workspace.resolve()).as_posix(), "bytes": written}, status_code=201
    )


async def list_files(request: Request) -> Response:
    sid = _session_id(request)
    if isinstance(sid, JSONResponse):
        return sid
    session = await _state(request).sessions.get(sid, create=False)
    if session is None:
        return JSONResponse({"files": []})
    root = session.workspace.resolve()
    files = []
    for folder, directories, names in os.walk(root):
        directories[:] = [d for d in directories if not (Path(folder) / d).is_symlink()]
        for name in sorted(names):
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            info = path.stat()
            modified = datetime.fromtimestamp(info.st_mtime, UTC).isoformat().replace("+00:00", "Z")
            files.append({"path": path.relative_to(root).as_posix(), "bytes": info.st_size, "modified": modified})
    files.sort(key=lambda f: f["path"])
    return JSONResponse({"files": files})


async def get_file(request: Request) -> Response:
    sid = _session_id(request)
    if isinstance(sid, JSONResponse):
        return sid
    session = await _state(request).sessions.get(sid, create=False)
    relative = request.path_params["path"]
    if session is None:
        return problem(404, f"{relative!r} not found")
    try:
        target = resolve_inside(session.workspace, relative)
    except PathError as error:
        return problem(400, str(error))
    if not target.is_file():
        return problem(404, f"{relative!r} not found")
    return FileResponse(target)


async def sync(request: Request) -> Response:
    checked = await _session_and_body(request)
    if isinstance(checked, JSONResponse):
        return checked
    sid, body = checked
    errors = _field_errors(body, {"direction": (str, True), "s3Uri": (str, True), "path": (str, False)})
    if not errors and body["direction"] not in ("download", "upload"):
        errors.append({"field": "direction", "problem": "must be download or upload"})
    if errors:
        return problem(422, "invalid request body", fields=errors)
    state = _state(request)
    session = await _open_session(request, sid)
    if isinstance(session, JSONResponse):
        return session
    path = body.get("path", "")
    try:
        async with session.lock:
            if body["direction"] == "download":
                result = await asyncio.to_thread(
                    state.s3.download, body["s3Uri"], session.workspace, path, session.owner
                )
            else:
                result = await asyncio.to_thread(state.s3.upload, body["s3Uri"], session.workspace, path)
    except SyncError as error:
        return problem(error.status, str(error))
    except PathError as error:
        return problem(400, str(error))
    return JSONResponse({"files": result.files, "bytes": result.bytes})


async def delete_session(request: Request) -> Response:
    sid = request.path_params["sid"]
    pinned = _state(request).config.session_id
    if not is_session_id(sid):
        return problem(400, f"bad session id; use {SESSION_ID_RULE}")
    if pinned is not None and sid != pinned:
        return problem(403, "this executor serves another session")
    await _state(request).sessions.delete(sid)
    if pinned is not None:
        _state(request).finish("session deleted")
    return Response(status_code=204)


async def not_found(request: Request, exc: Exception) -> Response:
    return problem(404, "no such route")


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    return problem(405, "method not allowed")


def create_app(config: ExecutorConfig, request_exit: Callable[[], None] | None = None) -> Starlette:
    state = ExecutorState(config, request_exit)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        config.workdir.mkdir(parents=True, exist_ok=True)

        # Check often enough that no timeout is overshot by more than a quarter of itself.
        interval = max(
            0.25, min(EXPIRY_INTERVAL_SECONDS, config.idle_timeout_seconds / 4, config.session_timeout_seconds / 4)
        )

        async def expire_forever() -> None:
            while True:
                await asyncio.sleep(interval)
                await state.sessions.expire()
                pinned_unused = config.session_id is not None and config.session_id not in state.sessions.sessions
                if pinned_unused and time.monotonic() - state.started > config.session_timeout_seconds:
                    state.finish("session timeout before any call")

        expiry = asyncio.create_task(expire_forever())

        async def warm_up() -> None:
            await state.sessions.warm_font_cache()
            state.sessions.start_spare()

        font_cache = asyncio.create_task(warm_up())
        log.info("executor ready", extra={"event": "ready"})
        try:
            yield
        finally:
            state.shutting_down = True
            expiry.cancel()
            font_cache.cancel()
            await state.sessions.close_all()
            log.info("executor stopped", extra={"event": "stopped"})

    app = Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/v1/sessions/{sid}/execute", execute, methods=["POST"]),
            Route("/v1/sessions/{sid}/files", list_files, methods=["GET"]),
            Route("/v1/sessions/{sid}/files/{path:path}", put_file, methods=["PUT"]),
            Route("/v1/sessions/{sid}/files/{path:path}", get_file, methods=["GET"]),
            Route("/v1/sessions/{sid}/sync", sync, methods=["POST"]),
            Route("/v1/sessions/{sid}", delete_session, methods=["DELETE"]),
        ],
        middleware=[Middleware(AuthAndLogging)],
        exception_handlers={404: not_found, 405: method_not_allowed},
        lifespan=lifespan,
    )
    app.state.executor = state
    return app
