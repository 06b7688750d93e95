"""The calls of SPEC §6 (the README's API reference): each checks its session and body, then answers
with the contract's types; every failure is raised (errors.py turns it into the JSON error body)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
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
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from deep_insight_executor import transfers
from deep_insight_executor.errors import ApiError
from deep_insight_executor.paths import resolve_inside
from deep_insight_executor.quota import upload_refusal
from deep_insight_executor.sessions import DISK_FULL, Session, SessionStartError
from deep_insight_executor.state import state_of


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
    target = resolve_inside(session.workspace, request.path_params["path"])
    if target.is_dir():
        raise ApiError(400, f"{request.path_params['path']!r} is a directory")
    disk = session.disk
    assert disk is not None  # every served session has one
    room, used = await asyncio.to_thread(disk.room_for, target)
    quota = disk.policy.quota_bytes
    relative = request.path_params["path"]
    if declared and declared.isdigit() and int(declared) > room:
        raise ApiError(413, upload_refusal(relative, quota, used))
    written = 0
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    except OSError as error:
        raise _disk_error(error) from None
    try:
        with os.fdopen(handle, "wb") as sink:
            async for chunk in request.stream():
                written += len(chunk)
                if written > limit:
                    raise _too_large(limit)
                if written > room:
                    raise ApiError(413, upload_refusal(relative, quota, used))
                sink.write(chunk)
        os.replace(temporary, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError):
            raise _disk_error(error) from None
        raise
    finally:
        disk.forget_known()
    if session.owner is not None:
        for folder in [target, *[p for p in target.parents if session.workspace in p.parents]]:
            with contextlib.suppress(OSError):
                os.chown(folder, *session.owner)
    stored = StoredFile(target.relative_to(session.workspace.resolve()).as_posix(), written)
    return JSONResponse(stored.to_json(), status_code=201)


async def list_files(request: Request) -> Response:
    sid = _session_id(request)
    session = await state_of(request).sessions.get(sid, create=False)
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
            files.append(FileEntry(path.relative_to(root).as_posix(), info.st_size, modified))
    files.sort(key=lambda entry: entry.path)
    return JSONResponse({"files": [entry.to_json() for entry in files]})


async def get_file(request: Request) -> Response:
    sid = _session_id(request)
    session = await state_of(request).sessions.get(sid, create=False)
    relative = request.path_params["path"]
    if session is None:
        raise ApiError(404, f"{relative!r} not found")
    target = resolve_inside(session.workspace, relative)
    if not target.is_file():
        raise ApiError(404, f"{relative!r} not found")
    return FileResponse(target)


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
                disk.forget_known()
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
