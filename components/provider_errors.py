"""Errors of the dynamic providers that reach `pulumi up` as one line, thread by thread.

Pulumi's Python provider host (``python -m pulumi.dynamic``, pulumi/dynamic/__main__.py) turns an exception
of a provider call into the operation's error with ``traceback.format_exc()``: the frames, then the message.
For a failure the deployer can act on (a build failed in a named phase, the wrong account, a CodeBuild
quota) the frames only bury that line; for a bug they are what helps.

``sys.tracebacklimit`` would hide the frames, but it is one value for the whole process, and the host runs
calls on a pool of threads (two image builds at once): one call's failure would hide another's bug, or
another call's start would bring a failure's frames back. So the choice is made per exception instead:
`show_one_line_errors` gives the host's module a ``traceback`` whose ``format_exc`` shows a `OneLineError`
as its message and formats anything else exactly as before. The host module is recognised by Pulumi's own
wrapper (``_abort_with_traceback``); a host without it is left alone (its errors keep their frames).
"""

from __future__ import annotations

import sys
import threading
import traceback
from types import ModuleType
from typing import Any

HOST_WRAPPER = "_abort_with_traceback"
"""The host's wrapper that reports a call's exception with ``traceback.format_exc()`` (pulumi 3.272)."""

_installing = threading.Lock()


class OneLineError(Exception):
    """A failure whose message says everything the deployer needs; the host shows the message alone."""


class _PerException(ModuleType):
    """The ``traceback`` module as the host sees it: `format_exc` decides by the exception being handled."""

    def __init__(self) -> None:
        super().__init__("traceback")

    def __getattr__(self, name: str) -> Any:
        return getattr(traceback, name)

    @staticmethod
    def format_exc(limit: int | None = None, chain: bool = True) -> str:
        error = sys.exc_info()[1]
        if isinstance(error, OneLineError):
            return str(error)
        return traceback.format_exc(limit=limit, chain=chain)


def show_one_line_errors(host: ModuleType | None = None) -> bool:
    """Make Pulumi's provider host show `OneLineError`s as their message; True if ``host`` is that host.

    ``host``: the host's module (default: ``__main__``, which is what ``python -m pulumi.dynamic`` runs)."""
    host = sys.modules.get("__main__") if host is None else host
    if host is None or not callable(getattr(host, HOST_WRAPPER, None)):
        return False
    with _installing:
        if not isinstance(getattr(host, "traceback", None), _PerException):
            host.traceback = _PerException()  # type: ignore[attr-defined]
    return True
