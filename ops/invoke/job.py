"""What ``deep-insight invoke`` does: upload, invoke the runtime and watch its stream, download the artifacts."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click  # typer's own dependency: its editor, which typer does not re-export
import typer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from deep_insight_contract.events import TERMINAL, EventType
from deep_insight_contract.session import AGENTCORE_SESSION_ID_MIN, check_session_id
from deep_insight_contract.storage import artifacts_prefix

from components.agent_runtime import ENDPOINT_NAME
from ops.console import FAILED, INTERRUPTED, OpsError, aws_error_line, console, errors
from ops.invoke.screen import Screen
from ops.invoke.sse import StreamBrokenError, read_chunks, stream_events
from ops.invoke.text import human_size, plural
from ops.invoke.transfers import check_data_files, download_artifacts, download_summary, upload_inputs
from ops.invoke.view import JobView
from ops.stack import USER_AGENT_EXTRA, aws_client, read_outputs

QUALIFIER = ENDPOINT_NAME  # the runtime endpoint the program creates
# InvokeAgentRuntime starts a job: a retry after a timeout or a 5xx could start the same session's job
# twice (two executor tasks, interleaved artifacts), so botocore must not retry it. The read timeout only
# has to outlast a cold start before the first byte; after that a keepalive comes every 15 s.
INVOKE_CONFIG = Config(
    retries={"total_max_attempts": 1}, connect_timeout=10, read_timeout=300, user_agent_extra=USER_AGENT_EXTRA
)


def new_session_id(now: datetime | None = None) -> str:
    """A runtime session id that sorts by start time in the bucket's ``sessions/``: the contract's rule, and
    at least AgentCore's 33 characters (``deep-insight-20261202T101500Z-<32 hex>``, 62)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    session_id = check_session_id(f"deep-insight-{stamp}-{uuid.uuid4().hex}")
    assert len(session_id) >= AGENTCORE_SESSION_ID_MIN
    return session_id


def say(text: str, *, to_stderr: bool = False) -> None:
    """Plain text (names, URIs, model output are not rich markup), never wrapped mid-URI."""
    (errors if to_stderr else console).print(text, soft_wrap=True, markup=False)


def warn(message: str) -> None:
    say(f"warning: {message}", to_stderr=True)


@dataclass
class Progress:
    """How far the command got, for the Ctrl-C message."""

    stage: str = "reading the stack outputs"
    session_id: str | None = None
    bucket: str = ""
    target: Path = Path()
    downloaded: list[Path] = field(default_factory=list)


def ask_about_plan(event: dict[str, Any]) -> dict[str, str]:
    """Ask the person at the terminal about the plan of a plan_review event; the decision the runtime waits for."""
    say(f"The plan ({event['timeoutSeconds']} s to decide, then {event['onTimeout']}):\n{event['plan']}")
    answer = typer.prompt("Approve it, or edit it? [a/e]", default="a").strip().lower()
    if not answer.startswith("e"):
        return {"action": "approve"}
    edited = click.edit(event["plan"])  # $EDITOR with the plan; None when it was closed without saving
    if edited is None or not edited.strip():
        edited = typer.prompt("The plan to follow")
    return {"action": "revise", "plan": edited.strip()}


def decided(decision: dict[str, str]) -> str:
    return "approved" if decision["action"] == "approve" else "revised"


def review_plan(s3: Any, event: dict[str, Any]) -> str:
    """``ask_about_plan``, with the decision put where the runtime waits for it (its S3 decisionUri)."""
    decision = ask_about_plan(event)
    bucket, key = str(event["decisionUri"]).removeprefix("s3://").split("/", 1)
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(decision, ensure_ascii=False).encode("utf-8"))
    return decided(decision)


def invoke_and_watch(
    agentcore: Any,
    runtime_arn: str,
    session_id: str,
    payload: dict[str, Any],
    view: JobView,
    *,
    review: Callable[[dict[str, Any]], str] | None = None,
) -> str | None:
    """Invoke the runtime and render its stream; returns why the job did not complete (None when it did).
    ``review`` answers a plan_review event (``--review``)."""
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

        with Screen(view, console) as screen:
            try:
                for event in stream_events(read_chunks(body), session_id, warn):
                    screen.show(view.apply(event, time.monotonic()))
                    if event["type"] == EventType.PLAN_REVIEW and review is not None:
                        with screen.paused():
                            say(f"Plan {review(event)}.")
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


def run(
    *,
    question: str,
    stack: str,
    data: list[Path],
    download: Path | None,
    language: str | None,
    outputs_file: Path | None,
    review: bool = False,
) -> None:
    """The whole job; exit 1 when it failed, 130 on Ctrl-C (saying where its artifacts are)."""
    started = time.monotonic()
    progress = Progress()
    try:
        failure = _run(
            question=question,
            stack=stack,
            data=data,
            download=download,
            language=language,
            outputs_file=outputs_file,
            started=started,
            progress=progress,
            review=review,
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
    language: str | None,
    outputs_file: Path | None,
    started: float,
    progress: Progress,
    review: bool = False,
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
        payload["language"] = language
    if review:
        payload["planReview"] = True
    view = JobView(started, full_text=console.is_terminal)
    progress.stage = "running the job"
    data_plane = aws_client("bedrock-agentcore", region, config=INVOKE_CONFIG)
    answer = (lambda event: review_plan(s3, event)) if review else None
    failure = invoke_and_watch(data_plane, runtime_arn, session_id, payload, view, review=answer)
    progress.stage = "downloading the artifacts"
    try:
        download_artifacts(s3, bucket, session_id, target, progress.downloaded, warn=warn)
    except (BotoCoreError, ClientError, OSError) as error:
        if failure is None and isinstance(error, OSError):
            raise OpsError(f"cannot write the artifacts to {target}: {error}", exit_code=FAILED) from None
        if failure is None:
            raise
        # The job's own failure is the news; not getting its partial results is a footnote to it.
        reason = str(error) if isinstance(error, OSError) else aws_error_line(error)
        say(f"warning: partial artifacts not downloaded: {reason}", to_stderr=True)
    for line in download_summary(progress.downloaded, target, bucket, session_id):
        say(line)
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
