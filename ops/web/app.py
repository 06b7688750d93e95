"""The console's HTTP side (Starlette): the page, and a small JSON API over ``jobs.Jobs``.

Every request carries the console's token (``?token=`` once, then a SameSite=Strict cookie), like a
Jupyter server's: on a shared machine, other users' processes can reach 127.0.0.1 too."""

from __future__ import annotations

import hmac
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ops.web.files import CSP, NOSNIFF, file_response
from ops.web.jobs import JobError, Jobs

COOKIE = "deep_insight_console"
STATIC = resources.files("ops.web") / "static"
REPORT = "final_report.md"
RENDERED = "final_report.html"
"""Asked of a job's files, the Markdown report rendered (not a file on disk)."""


PAGE_POLICY = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
"""The page loads only its own script, styles, images and report."""
REPORT_SANDBOX = "allow-same-origin"
"""The report's frame (the ``sandbox`` attribute index.html is served with): no script, form, popup or top
navigation, but the console's own origin, so that its chart and style requests carry the SameSite=Strict
cookie (an opaque origin's would not, and the charts would not load). Without ``allow-scripts`` nothing in
the frame can use that origin; this holds even for the report opened on its own."""
REPORT_POLICY = (
    f"default-src 'none'; img-src 'self'; style-src 'self'; frame-ancestors 'self'; sandbox {REPORT_SANDBOX}"
)
"""The rendered report runs no script at all, whatever its text holds."""
MAX_REPORT_BYTES = 512 * 1024
"""A report's Markdown the console renders: markdown-it holds some 500 times a table's size (1 MB of table
rows, 10 s and 500 MB), and a real report is tens of KiB; the model's code can write a bigger one."""
CITATION = re.compile(r'<sup><a href="#ref-(\d+)">\1</a></sup>')
ANCHOR = re.compile(r'<a id="ref-(\d+)"></a>')


def safe_report_html(markdown: str) -> str:
    """The report's Markdown as HTML in which only the citation links the runtime writes are HTML.

    The text is the model's, and a data file can steer a model: any other HTML in it is shown as text
    (markdown-it with html off). The runtime's own two citation forms are set aside first, kept out of
    the escaping by private-use characters, and put back."""
    marked = CITATION.sub(lambda m: f"\ue000{m[1]}\ue001", markdown)
    marked = ANCHOR.sub(lambda m: f"\ue002{m[1]}\ue003", marked)
    renderer = MarkdownIt("commonmark", {"html": False}).enable("table")
    renderer.validateLink = inside_job  # any other link or image stays its Markdown text, URL shown
    html = renderer.render(marked)
    html = re.sub("\ue000(\\d+)\ue001", r'<sup><a href="#ref-\1">\1</a></sup>', html)
    return re.sub("\ue002(\\d+)\ue003", r'<a id="ref-\1"></a>', html)


def inside_job(url: str) -> bool:
    """Whether a report's link or image points at the report's own anchors or at a file of its job.

    Elsewhere would be another site opened inside the console's frame, an image that carries data out
    when shown, another server on 127.0.0.1 (the console's cookie goes to every port), or another job."""
    if url.startswith("#"):
        return True
    path = url.split("#", 1)[0].split("?", 1)[0].lower().replace("%2e", ".").replace("%5c", "\\")
    separated = path.replace("\\", "/")  # browsers read a backslash as a slash
    return bool(path) and ":" not in path and not separated.startswith("/") and ".." not in separated.split("/")


def create_app(jobs: Jobs, token: str) -> ASGIApp:
    def authorized(request: Request) -> bool:
        offered = request.query_params.get("token") or request.cookies.get(COOKIE) or ""
        return hmac.compare_digest(offered.encode(), token.encode())

    async def index(request: Request) -> Response:
        if not authorized(request):
            return HTMLResponse("Open the address the console printed (it carries the token).", status_code=403)
        page = (STATIC / "index.html").read_text(encoding="utf-8").replace("{REPORT_SANDBOX}", REPORT_SANDBOX)
        response = HTMLResponse(page, headers={CSP: PAGE_POLICY})
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response

    def api(handler):  # type: ignore[no-untyped-def]
        async def guarded(request: Request) -> Response:
            if not authorized(request):
                return JSONResponse({"error": "no or wrong console token"}, status_code=403)
            try:
                return await handler(request)
            except JobError as error:
                # Closing is how the console stops reading a body it refused (uvicorn would drain it).
                return JSONResponse({"error": str(error)}, status_code=error.status, headers={"Connection": "close"})
            except ClientDisconnect:  # the page went away mid-upload; nobody reads an answer
                return Response(status_code=400, headers={"Connection": "close"})

        return guarded

    @api
    async def upload(request: Request) -> Response:
        declared = request.headers.get("content-length")
        shown = await jobs.upload(request.path_params["name"], request.stream(), int(declared) if declared else None)
        return JSONResponse(shown)

    @api
    async def start(request: Request) -> Response:
        body = await json_object(request)
        language = body.get("language") if body.get("language") in ("ko", "en") else None
        uploads = body.get("uploads")
        if not isinstance(uploads, list) or not all(isinstance(upload, str) for upload in uploads):
            raise JobError('"uploads" is a list of the ids the uploads answered')
        session_id = await jobs.start(str(body.get("question") or ""), uploads, language, bool(body.get("review")))
        return JSONResponse({"sessionId": session_id})

    @api
    async def events(request: Request) -> Response:
        session_id = request.path_params["sid"]
        jobs.folder(session_id)

        async def stream():  # type: ignore[no-untyped-def]
            async for event in jobs.events(session_id):
                yield f"data: {json.dumps(event, ensure_ascii=False)}\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    @api
    async def cancel(request: Request) -> Response:
        await jobs.cancel(request.path_params["sid"])
        return JSONResponse({"cancelled": True})

    @api
    async def review(request: Request) -> Response:
        decision = await json_object(request)
        if not all(isinstance(value, str) for value in decision.values()):
            raise JobError('the decision is {"action": "approve"} or {"action": "revise", "plan": "..."}')
        jobs.decide(request.path_params["sid"], decision)
        return JSONResponse({"decided": True})

    @api
    async def history(request: Request) -> Response:
        return JSONResponse({"jobs": jobs.history()})

    @api
    async def job(request: Request) -> Response:
        folder = jobs.folder(request.path_params["sid"])
        files = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.endswith(".part"))
        return JSONResponse({**jobs.record(folder.name), "files": files})

    @api
    async def file(request: Request) -> Response:
        folder = jobs.folder(request.path_params["sid"])
        name = request.path_params["name"]
        path = (folder / name).resolve()
        if name == RENDERED:
            return render_report(folder)
        if path.parent != folder.resolve() or not path.is_file():
            raise JobError(f"no file {name} in job {folder.name}")
        return file_response(path)

    def render_report(folder: Path) -> Response:
        """final_report.md as HTML, beside the charts it links to by relative name."""
        source = folder / REPORT
        if not source.is_file():
            raise JobError(f"job {folder.name} has no {REPORT} (yet)")
        size = source.stat().st_size
        if size > MAX_REPORT_BYTES:
            raise JobError(
                f"{REPORT} has {size // 1024:,} KiB, more than the {MAX_REPORT_BYTES // 1024:,} KiB the console "
                "renders; download it, or the PDF"
            )
        body = safe_report_html(source.read_text(encoding="utf-8", errors="replace"))
        page = f'<!doctype html><meta charset="utf-8"><link rel="stylesheet" href="/static/report.css">{body}'
        return HTMLResponse(page, headers={CSP: REPORT_POLICY, "Cache-Control": "no-store"})

    routes = [
        Route("/", index),
        Route("/api/uploads/{name}", upload, methods=["PUT"]),
        Route("/api/jobs", start, methods=["POST"]),
        Route("/api/jobs", history, methods=["GET"]),
        Route("/api/jobs/{sid}", job, methods=["GET"]),
        Route("/api/jobs/{sid}/events", events, methods=["GET"]),
        Route("/api/jobs/{sid}/cancel", cancel, methods=["POST"]),
        Route("/api/jobs/{sid}/review", review, methods=["POST"]),
        Route("/api/jobs/{sid}/files/{name}", file, methods=["GET"]),
        Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
    ]
    return NoSniff(Starlette(routes=routes))


async def json_object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise JobError("the request's body is not JSON") from None
    if not isinstance(body, dict):
        raise JobError("the request's body is not a JSON object")
    return body


class NoSniff:
    """``X-Content-Type-Options: nosniff`` on every answer, the API's and the static files' too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = [(name.lower().encode(), value.encode()) for name, value in NOSNIFF.items()]

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in dict(added)]
                message = {**message, "headers": kept + added}
            await send(message)

        await self.app(scope, receive, send_with_header)
