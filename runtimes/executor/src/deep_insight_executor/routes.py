"""The calls of SPEC §6 (the README's API reference): each checks its session and body, then answers
with the contract's types; every failure is raised (errors.py turns it into the JSON error body)."""

from __future__ import annotations

import asyncio
import json
import mimetypes
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from deep_insight_contract.executor import (
    HEALTH_PATH,
    SESSIONS_PATH,
    CallError,
    CallStatus,
    ErrorType,
    ExecuteRequest,
    ExecuteResult,
    FileEntry,
    StoredFile,
    SyncDirection,
    SyncRequest,
)
from deep_insight_contract.session import SESSION_ID_RULE, is_session_id
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from deep_insight_executor import transfers
from deep_insight_executor.disktree import scan
from deep_insight_executor.errors import ApiError
from deep_insight_executor.paths import existing_bytes, open_file, parts, replacing
from deep_insight_executor.quota import upload_refusal
from deep_insight_executor.sessions import DISK_FULL, Session, SessionStartError
from deep_insight_executor.state import state_of

CHUNK_BYTES = 1024 * 1024


def _allowed_session_id(request: Request) -> str:
    """The path's session id if this executor may serve it: 400 if malformed, 403 if another's."""
    sid = request.path_params["sid"]
    pinned = state_of(request).config.session_id
    if not is_session_id(sid):
        raise ApiError(400, f"bad session id; use {SESSION_ID_RULE}")
    if pinned is not None and sid != pinned:
        raise ApiError(403, "this executor serves another session")
    return sid


def _session_id(request: Request) -> str:
    """As _allowed_session_id, and 503 once the executor is finished or shutting down."""
    sid = _allowed_session_id(request)
    state = state_of(request)
    if state.finished or state.shutting_down:
        raise ApiError(503, "this executor is finished or shutting down")
    return sid


async def _open_session(request: Request, sid: str) -> Session:
    """The session, created on first use (SessionLimitError, 429, when the executor serves its maximum)."""
    session = await state_of(request).sessions.get(sid)
    assert session is not None
    return session


async def _json_object(request: Request) -> dict[str, Any]:
    # Only JSON: a web page may send another origin a text/plain or form POST without asking first (a CORS
    # "simple request"), never an application/json one.
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise ApiError(415, "send the body as JSON, with Content-Type: application/json")
    raw = await request.body()
    try:
        body = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    return body


async def health(request: Request) -> JSONResponse:
    state = state_of(request)
    if state.finished or state.shutting_down:
        status = "finished" if state.finished else "shutting_down"
        return JSONResponse({"status": status, "sessions": len(state.sessions)}, status_code=503)
    return JSONResponse({"status": "ok", "sessions": len(state.sessions)})


async def execute(request: Request) -> Response:
    sid = _session_id(request)
    call = ExecuteRequest.from_json(await _json_object(request))
    try:
        session = await _open_session(request, sid)
    except SessionStartError as error:
        unavailable = ExecuteResult(CallStatus.ERROR, error=CallError(ErrorType.WORKER_UNAVAILABLE, str(error)))
        return JSONResponse(unavailable.to_json())
    timeout = call.timeout_seconds
    if timeout is None:
        timeout = state_of(request).config.default_call_timeout_seconds
    result = await session.execute(call.code, call.language, timeout)
    return JSONResponse(result.to_json())


def _too_large(limit: int) -> ApiError:
    return ApiError(413, f"upload larger than {limit} bytes (EXECUTOR_MAX_UPLOAD_BYTES)")


def _disk_error(error: OSError) -> Exception:
    """507 when the disk is full: the upload may be repeated once space is freed; anything else as it was."""
    if error.errno in DISK_FULL:
        return ApiError(507, "the executor's disk is full; delete files of this session and try again")
    return error


async def put_file(request: Request) -> Response:
    sid = _session_id(request)
    limit = state_of(request).config.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    session = await _open_session(request, sid)
    relative = request.path_params["path"]
    disk = session.disk
    assert disk is not None  # every served session has one
    used = await asyncio.to_thread(disk.usage)
    room = disk.policy.quota_bytes - used + existing_bytes(session.workspace, relative)
    quota = disk.policy.quota_bytes
    if declared and declared.isdigit() and int(declared) > room:
        raise ApiError(413, upload_refusal(relative, quota, used))
    written = 0
    try:
        with replacing(session.workspace, relative, session.owner) as sink:
            async for chunk in request.stream():
                written += len(chunk)
                if written > limit:
                    raise _too_large(limit)
                if written > room:
                    raise ApiError(413, upload_refusal(relative, quota, used))
                sink.write(chunk)
    except OSError as error:
        raise _disk_error(error) from None
    finally:
        await asyncio.to_thread(disk.take_stock)
    stored = StoredFile("/".join(parts(relative)), written)
    return JSONResponse(stored.to_json(), status_code=201)


async def list_files(request: Request) -> Response:
    sid = _session_id(request)
    session = await state_of(request).sessions.get(sid, create=False)
    if session is None:
        return JSONResponse({"files": []})
    found = await asyncio.to_thread(scan, session.workspace)
    files = [
        FileEntry(info.path, info.size, datetime.fromtimestamp(info.mtime, UTC).isoformat().replace("+00:00", "Z"))
        for info in found
    ]
    files.sort(key=lambda entry: entry.path)
    return JSONResponse({"files": [entry.to_json() for entry in files]})


async def get_file(request: Request) -> Response:
    sid = _session_id(request)
    session = await state_of(request).sessions.get(sid, create=False)
    relative = request.path_params["path"]
    if session is None:
        raise ApiError(404, f"{relative!r} not found")
    try:
        handle = open_file(session.workspace, relative)
    except FileNotFoundError:
        raise ApiError(404, f"{relative!r} not found") from None
    source = os.fdopen(handle, "rb")
    size = os.fstat(handle).st_size
    content_type = mimetypes.guess_type(relative)[0] or "application/octet-stream"

    async def content() -> AsyncIterator[bytes]:
        try:
            while chunk := await asyncio.to_thread(source.read, CHUNK_BYTES):
                yield chunk
        finally:
            source.close()

    return StreamingResponse(content(), media_type=content_type, headers={"Content-Length": str(size)})


async def sync(request: Request) -> Response:
    sid = _session_id(request)
    call = SyncRequest.from_json(await _json_object(request))
    session = await _open_session(request, sid)
    async with session.lock:
        if call.direction == SyncDirection.DOWNLOAD:
            disk = session.disk
            assert disk is not None  # every served session has one
            used = await asyncio.to_thread(disk.usage)
            try:
                result = await asyncio.to_thread(
                    transfers.download, call.files, session.workspace, session.owner, disk.policy.quota_bytes - used
                )
            finally:
                await asyncio.to_thread(disk.take_stock)
        else:
            result = await asyncio.to_thread(transfers.upload, call.files, session.workspace)
    return JSONResponse(result.to_json())


async def delete_session(request: Request) -> Response:
    sid = _allowed_session_id(request)
    state = state_of(request)
    await state.sessions.delete(sid)
    if state.config.session_id is not None:
        state.finish("session deleted")
    return Response(status_code=204)


ROUTES = [
    Route(HEALTH_PATH, health, methods=["GET"]),
    Route(f"{SESSIONS_PATH}/{{sid}}/execute", execute, methods=["POST"]),
    Route(f"{SESSIONS_PATH}/{{sid}}/files", list_files, methods=["GET"]),
    Route(f"{SESSIONS_PATH}/{{sid}}/files/{{path:path}}", put_file, methods=["PUT"]),
    Route(f"{SESSIONS_PATH}/{{sid}}/files/{{path:path}}", get_file, methods=["GET"]),
    Route(f"{SESSIONS_PATH}/{{sid}}/sync", sync, methods=["POST"]),
    Route(f"{SESSIONS_PATH}/{{sid}}", delete_session, methods=["DELETE"]),
]
