"""JSON logs on stdout, one object per line, each carrying the session id it concerns."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time

current_session: contextvars.ContextVar[str | None] = contextvars.ContextVar("session", default=None)


class JsonFormatter(logging.Formatter):
    def __init__(self, pinned_session: str | None = None) -> None:
        super().__init__()
        self.pinned_session = pinned_session

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "sessionId": getattr(record, "session", None) or current_session.get() or self.pinned_session,
        }
        for key in ("method", "path", "status", "durationMs", "event", "uid"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str = "INFO", session_id: str | None = None) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(session_id))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # requests are logged by the app, with the session
