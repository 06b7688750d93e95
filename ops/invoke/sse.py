"""Server-sent events: the bytes of the runtime's response body → SPEC §7 event dicts.

Pure except `read_chunks`, which reads the network body as bytes arrive; tested without a terminal or AWS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import urllib3.exceptions
from botocore.exceptions import BotoCoreError
from deep_insight_agent.events import validate_event

READ_SIZE = 64 * 1024
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
