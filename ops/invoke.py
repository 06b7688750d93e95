"""``deep-insight invoke``: ask a deployed stack a question and watch the agents work (SPEC §7, §8).

The data goes to ``s3://<artifactBucket>/sessions/<id>/input/``; the runtime is invoked through its ``live``
endpoint and streams SPEC §7 events back as server-sent events; what the job publishes under
``sessions/<id>/artifacts/`` is downloaded at the end (also after a failed job: the runtime publishes
partial results).

The pure parts (SSE parsing, the view's state machine) are separate from the terminal and the network, so
they are tested without either.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, NamedTuple

import typer
import urllib3.exceptions
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from deep_insight_agent.events import TERMINAL, validate_event
from deep_insight_contract.session import AGENTCORE_SESSION_ID_MIN, check_session_id
from rich.console import Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from components.agent_runtime import ENDPOINT_NAME
from ops.console import FAILED, INTERRUPTED, OpsError, aws_error_line, console, errors, reports_errors
from ops.stack import aws_client, read_outputs

QUALIFIER = ENDPOINT_NAME  # the runtime endpoint the program creates
# InvokeAgentRuntime starts a job: a retry after a timeout or a 5xx could start the same session's job
# twice (two executor tasks, interleaved artifacts), so botocore must not retry it. The read timeout only
# has to outlast a cold start before the first byte; after that a keepalive comes every 15 s.
INVOKE_CONFIG = Config(
    retries={"total_max_attempts": 1}, connect_timeout=10, read_timeout=300, user_agent_extra="deep-insight-cli"
)
READ_SIZE = 64 * 1024
TEXT_SUMMARY_CHARACTERS = 240  # an agent's text per line in plain output
QUIET_AFTER_SECONDS = 20.0  # the runtime sends a keepalive after 15 s of silence: beyond that, say we wait
LISTED_FILES = 20


class Language(StrEnum):
    ko = "ko"
    en = "en"


def new_session_id(now: datetime | None = None) -> str:
    """A runtime session id that sorts by start time in the bucket's ``sessions/``: the contract's rule, and
    at least AgentCore's 33 characters (``deep-insight-20261202T101500Z-<32 hex>``, 62)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    session_id = check_session_id(f"deep-insight-{stamp}-{uuid.uuid4().hex}")
    assert len(session_id) >= AGENTCORE_SESSION_ID_MIN
    return session_id


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def clock(seconds: float) -> str:
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes:02}:{secs:02}"


# --- server-sent events ------------------------------------------------------------------------------------

_LINE_END = re.compile(rb"\r\n|\r|\n")


class SseParser:
    """The ``data`` of each server-sent event (WHATWG rules: multi-line data, comments, CR/LF/CRLF), fed
    bytes as they arrive; a chunk may end anywhere, inside a line or a UTF-8 character."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[str]:
        self._buffer += chunk
        payloads: list[str] = []
        start = 0
        for match in _LINE_END.finditer(self._buffer):
            if match.group() == b"\r" and match.end() == len(self._buffer):
                break  # maybe the first half of a CRLF split across chunks
            payloads += self._line(self._buffer[start : match.start()])
            start = match.end()
        self._buffer = self._buffer[start:]
        return payloads

    def close(self) -> list[str]:
        """The end of the stream: an event without its closing blank line still counts."""
        payloads = self._line(self._buffer.rstrip(b"\r")) if self._buffer.rstrip(b"\r") else []
        self._buffer = b""
        return payloads + self._line(b"")

    def _line(self, raw: bytes) -> list[str]:
        if not raw:
            if not self._data:
                return []
            payload, self._data = "\n".join(self._data), []
            return [payload]
        line = raw.decode("utf-8", errors="replace")
        if line.startswith(":"):  # a comment, which servers use as a heartbeat
            return []
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value.removeprefix(" "))
        return []


class StreamBrokenError(Exception):
    """The connection failed mid-stream (reset, read timeout): the job's fate is unknown."""


def read_chunks(body: Any) -> Iterator[bytes]:
    """The response body's bytes as they arrive.

    botocore's ``StreamingBody.read(n)`` waits for n bytes or the end, which would hold a keepalive back
    until later events fill the buffer; urllib3's ``read1`` returns whatever has arrived.
    """
    read1 = getattr(getattr(body, "_raw_stream", None), "read1", None)
    try:
        if read1 is None:  # not urllib3 underneath (a stub): its reads are not held back anyway
            yield from body.iter_chunks(READ_SIZE)
            return
        while chunk := read1(READ_SIZE):
            yield chunk
    except (urllib3.exceptions.HTTPError, BotoCoreError, OSError) as error:
        raise StreamBrokenError(str(error) or type(error).__name__) from error


def stream_events(chunks: Iterable[bytes], session_id: str, warn: Callable[[str], None]) -> Iterator[dict[str, Any]]:
    """The SPEC §7 events of a stream. Anything else (not JSON, a malformed event, another session's event)
    is reported through ``warn`` and skipped: the job may still finish, and its artifacts are what count."""
    parser = SseParser()

    def decode(payloads: list[str]) -> Iterator[dict[str, Any]]:
        for payload in payloads:
            try:
                event = json.loads(payload)
            except json.JSONDecodeError:
                warn(f"skipped a stream message that is not JSON: {payload[:120]!r}")
                continue
            problems = validate_event(event)
            if not problems and event["sessionId"] != session_id:
                problems = [f"sessionId {event['sessionId']!r} is not this session's"]
            if problems:
                warn(f"skipped an event that breaks the runtime contract (SPEC §7): {'; '.join(problems)}")
                continue
            yield event

    for chunk in chunks:
        yield from decode(parser.feed(chunk))
    yield from decode(parser.close())


# --- what the user sees ------------------------------------------------------------------------------------


class Line(NamedTuple):
    """One printed line: ``[mm:ss] text`` (the clock counts from the start of the command)."""

    at: float
    text: str
    style: str = ""


def describe_tool_input(tool: str, tool_input: Any) -> str:
    """A tool call in a few words: the code itself is for the artifacts, not the progress display."""
    if not isinstance(tool_input, dict):
        return ""
    code = tool_input.get("code")
    if isinstance(code, str):
        lines = len(code.strip().splitlines())
        return f" ({lines} line{'s' if lines != 1 else ''})"
    command = tool_input.get("command")
    if isinstance(command, str):
        lines = command.strip().splitlines() or [""]
        more = "…" if len(lines[0]) > 80 or len(lines) > 1 else ""
        return f": {lines[0][:80]}{more}"
    title = tool_input.get("title")
    if isinstance(title, str):
        return f": {title[:80]}"
    return ""


def summarize(text: str, limit: int = TEXT_SUMMARY_CHARACTERS) -> str:
    collapsed = " ".join(text.split())
    return collapsed if len(collapsed) <= limit else collapsed[: limit - 1].rstrip() + "…"


@dataclass
class JobView:
    """The job as the events tell it: which agent works, on what, in which phase; ``apply`` returns the
    lines worth printing for each event (none for a keepalive or a text fragment)."""

    started: float
    full_text: bool = False
    """True on a terminal: an agent's text is printed whole; else one summarized line per turn."""
    agent: str | None = None
    activity: str = "starting the runtime session"
    phase: str = ""
    last_news: float = 0.0
    last_keepalive: float | None = None
    keepalives: int = 0
    events: int = 0
    tool_calls: int = 0
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    complete: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    _text_agent: str | None = None
    _text: list[str] = field(default_factory=list)
    _agent_started: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.last_news = self.last_news or self.started

    def apply(self, event: dict[str, Any], now: float) -> list[Line]:
        self.events += 1
        kind = event["type"]
        if kind == "keepalive":
            self.keepalives += 1
            self.last_keepalive = now
            return []
        self.last_news = now
        if kind == "text":
            lines = self.flush(now) if event["agent"] != self._text_agent else []
            self._text_agent = event["agent"]
            self._text.append(event["text"])
            self.agent, self.activity = event["agent"], "writing"
            return lines
        lines = self.flush(now)
        if kind == "status":
            self.phase = event["phase"]
            if self.agent is None:
                self.activity = "preparing"
            lines.append(Line(now, f"· {event['phase']}", "cyan"))
        elif kind == "agent":
            name, state = event["agent"], event["state"]
            if state == "started":
                self.agent, self.activity = name, "thinking"
                self._agent_started[name] = now
                lines.append(Line(now, f"▶ {name} started", "bold"))
            elif state == "finished":
                took = now - self._agent_started.get(name, now)
                self.activity = "done"
                lines.append(Line(now, f"✓ {name} finished in {took:.1f} s", "green"))
            else:
                lines.append(Line(now, f"{name} {state}"))
        elif kind == "tool":
            self.tool_calls += 1
            self.agent, self.activity = event["agent"], f"running {event['tool']}"
            lines.append(
                Line(now, f"  {event['agent']} → {event['tool']}{describe_tool_input(event['tool'], event['input'])}")
            )
        elif kind == "tool_result":
            self.activity = "thinking"
            if event["status"] != "success":
                lines.append(Line(now, f"  {event['agent']} ✗ {event['tool']} {event['status']}", "red"))
        elif kind == "artifact":
            self.artifacts.append(event)
            lines.append(Line(now, f"artifact {event['name']} ({human_size(int(event['bytes'] or 0))})"))
        elif kind == "error":
            self.error = event
            retry = " (retryable: run it again)" if event["retryable"] else ""
            lines.append(Line(now, f"✗ job failed: {event['message']}{retry}", "bold red"))
        elif kind == "complete":
            self.complete = event
            usage = event["usage"]
            lines.append(
                Line(
                    now,
                    f"✓ complete in {float(event['durationSeconds']):.1f} s"
                    f" · {plural(len(event['artifacts']), 'artifact')} · {plural(self.tool_calls, 'tool call')}"
                    f" · tokens {usage['inputTokens']:,} in / {usage['outputTokens']:,} out",
                    "bold green",
                )
            )
        return lines

    def flush(self, now: float) -> list[Line]:
        """The text an agent wrote since its last tool call or event: printed once the turn moves on."""
        agent, text = self._text_agent, "".join(self._text).strip()
        self._text_agent, self._text = None, []
        if agent is None or not text:
            return []
        if self.full_text:
            # Continuation lines start under the text, past "[mm:ss]   agent: ".
            return [Line(now, f"  {agent}: " + text.replace("\n", "\n" + " " * (len(agent) + 12)), "dim")]
        return [Line(now, f"  {agent}: {summarize(text)}", "dim")]

    def status(self, now: float) -> str:
        """The live line under the printed ones: clock, agent, activity, phase, and how long it is quiet."""
        parts = [clock(now - self.started), self.agent or "runtime", self.activity]
        if self.phase:
            parts.append(self.phase)
        quiet = now - self.last_news
        if quiet >= QUIET_AFTER_SECONDS:
            beat = (
                f"last keepalive {now - self.last_keepalive:.0f} s ago" if self.last_keepalive else "no keepalive yet"
            )
            parts.append(f"no news for {quiet:.0f} s, {beat}")
        return " · ".join(parts)

    def typing(self, width: int) -> str:
        """``agent: <the line it is writing>`` for the live display (the whole text is printed after)."""
        text = "".join(self._text).rstrip()
        if self._text_agent is None or not text:
            return ""
        last = f"{self._text_agent}: {text.splitlines()[-1]}"
        return last if len(last) <= width else last[: width - 1] + "…"


class _LiveStatus:
    """Rendered by rich at every refresh, so the clock moves and the spinner turns between events."""

    def __init__(self, view: JobView) -> None:
        self.view = view
        self.spinner = Spinner("dots", style="cyan")

    def __rich__(self) -> RenderableType:
        self.spinner.update(text=Text(self.view.status(time.monotonic())))
        typing = self.view.typing(max(20, console.width - 4))
        if not typing:
            return self.spinner
        return Group(self.spinner, Text(f"  {typing}", style="dim", no_wrap=True))


class Screen:
    """Lines printed above a live status on a terminal; on a pipe or in CI only the lines."""

    def __init__(self, view: JobView) -> None:
        self.view = view
        self.live = (
            Live(_LiveStatus(view), console=console, refresh_per_second=8, transient=True)
            if console.is_terminal and not console.is_dumb_terminal
            else None
        )

    def __enter__(self) -> Screen:
        if self.live is not None:
            self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.stop()

    def show(self, lines: Iterable[Line]) -> None:
        for line in lines:
            stamp = Text(f"[{clock(line.at - self.view.started)}] ", style="dim")
            console.print(stamp + Text(line.text, style=line.style), soft_wrap=True)


# --- S3 ----------------------------------------------------------------------------------------------------


def check_data_files(paths: Iterable[Path]) -> list[Path]:
    """Every --data file readable, names distinct (they share the session's input folder); else exit 2
    before anything is created."""
    files: list[Path] = []
    for path in paths:
        if not path.exists():
            raise OpsError(f"--data {path}: no such file")
        if not path.is_file():
            raise OpsError(f"--data {path}: not a file (give a CSV file)")
        try:
            with path.open("rb") as handle:
                handle.read(1)
        except OSError as error:
            raise OpsError(f"--data {path}: cannot read it ({error.strerror})") from None
        files.append(path)
    names = [path.name for path in files]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise OpsError(f"--data files share the name {', '.join(duplicates)}; rename one (inputs share a folder)")
    return files


def upload_inputs(s3: Any, bucket: str, session_id: str, files: list[Path]) -> list[str]:
    uris = []
    for path in files:
        key = f"sessions/{session_id}/input/{path.name}"
        with path.open("rb") as body:
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/csv")
        uris.append(f"s3://{bucket}/{key}")
    return uris


def artifacts_prefix(session_id: str) -> str:
    return f"sessions/{session_id}/artifacts/"


def download_artifacts(s3: Any, bucket: str, session_id: str, target: Path, done: list[Path]) -> None:
    """Every object under the session's artifacts prefix (all pages) into ``target``, keeping subfolders.

    ``done`` grows as files land, so an interrupted download can say what it got. Each file is written
    beside its name and renamed when whole: a half-written file never carries the real name.
    """
    prefix = artifacts_prefix(session_id)
    root = target.resolve()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            relative = PurePosixPath(item["Key"][len(prefix) :])
            if not relative.parts or item["Key"].endswith("/"):
                continue
            destination = root.joinpath(*relative.parts).resolve()
            if ".." in relative.parts or not destination.is_relative_to(root):
                say(f"warning: skipped {item['Key']}: it points outside {target}", to_stderr=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            partial = destination.with_name(destination.name + ".part")
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"]
            try:
                with partial.open("wb") as handle:
                    for chunk in body.iter_chunks(1024 * 1024):
                        handle.write(chunk)
                partial.replace(destination)
            except BaseException:  # Ctrl-C included: leave no half file behind
                partial.unlink(missing_ok=True)
                raise
            finally:
                body.close()
            done.append(destination)


def print_downloads(files: list[Path], target: Path, bucket: str, session_id: str) -> None:
    source = f"s3://{bucket}/{artifacts_prefix(session_id)}"
    if not files:
        say(f"No artifacts under {source}")
        return
    total = sum(path.stat().st_size for path in files)
    say(f"Downloaded {plural(len(files), 'artifact')} ({human_size(total)}) to {target}/ from {source}")
    root = target.resolve()
    for path in sorted(files)[:LISTED_FILES]:
        say(f"  {path.relative_to(root)}  {human_size(path.stat().st_size)}")
    if len(files) > LISTED_FILES:
        say(f"  … and {len(files) - LISTED_FILES} more")


# --- the command -------------------------------------------------------------------------------------------


def say(text: str, *, to_stderr: bool = False) -> None:
    """Plain text (names, URIs, model output are not rich markup), never wrapped mid-URI."""
    (errors if to_stderr else console).print(text, soft_wrap=True, markup=False)


@dataclass
class Progress:
    """How far the command got, for the Ctrl-C message."""

    stage: str = "reading the stack outputs"
    session_id: str | None = None
    bucket: str = ""
    target: Path = Path()
    downloaded: list[Path] = field(default_factory=list)


def invoke_and_watch(
    agentcore: Any, runtime_arn: str, session_id: str, payload: dict[str, Any], view: JobView
) -> str | None:
    """Invoke the runtime and render its stream; returns why the job did not complete (None when it did)."""
    response = agentcore.invoke_agent_runtime(
        agentRuntimeArn=runtime_arn,
        runtimeSessionId=session_id,
        qualifier=QUALIFIER,
        contentType="application/json",
        accept="text/event-stream",
        payload=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
    )
    body = response["response"]
    try:
        content_type = str(response.get("contentType") or "")
        if not content_type.startswith("text/event-stream"):
            answer = body.read(2000).decode("utf-8", errors="replace")
            return f"the runtime answered {content_type or 'without a content type'}, not an event stream: {answer}"
        view.activity = "waiting for the first event"

        def warn(message: str) -> None:
            say(f"warning: {message}", to_stderr=True)

        with Screen(view) as screen:
            try:
                for event in stream_events(read_chunks(body), session_id, warn):
                    screen.show(view.apply(event, time.monotonic()))
                    if event["type"] in TERMINAL:
                        break
            except StreamBrokenError as error:
                return f"the event stream broke after {plural(view.events, 'event')} ({error})"
            finally:
                screen.show(view.flush(time.monotonic()))
    finally:
        body.close()  # also on Ctrl-C: the runtime sees its stream closed
    if view.error is not None:
        return str(view.error["message"])
    if view.complete is None:
        return f"the stream ended after {plural(view.events, 'event')} without a result (no complete event)"
    return None


@reports_errors
def command(
    *,
    question: Annotated[
        str,
        typer.Argument(
            metavar="QUESTION", help="The question about the data, in Korean or English.", show_default=False
        ),
    ],
    stack: Annotated[str, typer.Option("--stack", "-s", help="Stack name (its outputs locate the runtime).")],
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data", "-d", metavar="FILE", help="CSV file to analyse; repeat for more files.", show_default=False
        ),
    ] = None,
    download: Annotated[
        Path | None,
        typer.Option(
            "--download",
            metavar="DIR",
            help="Folder for the artifacts (default: ./deep-insight-<session id>/).",
            show_default=False,
        ),
    ] = None,
    language: Annotated[
        Language | None,
        typer.Option("--language", help="Report language (default: Korean for a Korean question, else English)."),
    ] = None,
    outputs_file: Annotated[
        Path | None,
        typer.Option("--outputs", metavar="FILE", help="Stack outputs JSON (default: pulumi stack output --json)."),
    ] = None,
) -> None:
    """Ask a deployed stack a question: upload the data, watch the agents work, download the artifacts.

    The data goes to s3://<artifactBucket>/sessions/<session id>/input/.
    The report PDFs, charts, citations.json and the calculation records land in the --download folder.
    Ctrl-C stops waiting (exit 130) and says where the job's artifacts are.

    Example: deep-insight invoke --stack dev "총 매출은?" --data sales.csv --download out/
    """
    started = time.monotonic()
    progress = Progress()
    try:
        failure = _run(
            question=question,
            stack=stack,
            data=data or [],
            download=download,
            language=language,
            outputs_file=outputs_file,
            started=started,
            progress=progress,
        )
    except KeyboardInterrupt:
        _interrupted(progress)
        raise typer.Exit(INTERRUPTED) from None
    if failure is not None:
        raise OpsError(f"{failure} (session {progress.session_id})", exit_code=FAILED)


def _run(
    *,
    question: str,
    stack: str,
    data: list[Path],
    download: Path | None,
    language: Language | None,
    outputs_file: Path | None,
    started: float,
    progress: Progress,
) -> str | None:
    if not question.strip():
        raise OpsError('the question is empty; ask something, e.g. "카테고리별 매출을 분석해줘"')
    files = check_data_files(data)
    if download is not None and download.exists() and not download.is_dir():
        raise OpsError(f"--download {download}: exists and is not a folder")
    outputs = read_outputs(stack, outputs_file)
    bucket, runtime_arn, region = outputs["artifactBucket"], outputs["agentRuntimeArn"], outputs["region"]
    session_id = new_session_id()
    target = download if download is not None else Path(f"deep-insight-{session_id}")
    progress.session_id, progress.bucket, progress.target = session_id, bucket, target
    say(f"Session {session_id} · stack {stack} · {runtime_arn} (endpoint {QUALIFIER})")
    s3 = aws_client("s3", region)
    progress.stage = "uploading the data"
    uris = upload_inputs(s3, bucket, session_id, files)
    for path, uri in zip(files, uris, strict=True):
        say(f"Uploaded {path.name} ({human_size(path.stat().st_size)}) to {uri}")
    payload: dict[str, Any] = {"prompt": question.strip(), "data": uris}
    if language is not None:
        payload["language"] = language.value
    view = JobView(started, full_text=console.is_terminal)
    progress.stage = "running the job"
    data_plane = aws_client("bedrock-agentcore", region, config=INVOKE_CONFIG)
    failure = invoke_and_watch(data_plane, runtime_arn, session_id, payload, view)
    progress.stage = "downloading the artifacts"
    try:
        download_artifacts(s3, bucket, session_id, target, progress.downloaded)
    except (BotoCoreError, ClientError, OSError) as error:
        if failure is None and isinstance(error, OSError):
            raise OpsError(f"cannot write the artifacts to {target}: {error}", exit_code=FAILED) from None
        if failure is None:
            raise
        # The job's own failure is the news; not getting its partial results is a footnote to it.
        reason = str(error) if isinstance(error, OSError) else aws_error_line(error)
        say(f"warning: partial artifacts not downloaded: {reason}", to_stderr=True)
    print_downloads(progress.downloaded, target, bucket, session_id)
    return failure


def _interrupted(progress: Progress) -> None:
    if progress.session_id is None:
        say(f"Interrupted while {progress.stage}; nothing was created.", to_stderr=True)
        return
    source = f"s3://{progress.bucket}/{artifacts_prefix(progress.session_id)}"
    say(f"Interrupted while {progress.stage} · session {progress.session_id}", to_stderr=True)
    if progress.downloaded:
        got = plural(len(progress.downloaded), "artifact")
        say(f"Downloaded {got} to {progress.target} before stopping.", to_stderr=True)
    else:
        say("Nothing downloaded.", to_stderr=True)
    say(
        f"The job's artifacts, as far as it published them, are under {source}; "
        f"fetch them with: aws s3 cp --recursive {source} {progress.target}",
        to_stderr=True,
    )
