"""The terminal screen of ``invoke``: the view's lines above a rich live status on a terminal, plain lines on a
pipe or in CI."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from ops.invoke.text import clock
from ops.invoke.view import JobView, Line


class _LiveStatus:
    """Rendered by rich at every refresh, so the clock moves and the spinner turns between events."""

    def __init__(self, view: JobView, console: Console) -> None:
        self.view = view
        self.console = console
        self.spinner = Spinner("dots", style="cyan")

    def __rich__(self) -> RenderableType:
        self.spinner.update(text=Text(self.view.status(time.monotonic())))
        typing = self.view.typing(max(20, self.console.width - 4))
        if not typing:
            return self.spinner
        return Group(self.spinner, Text(f"  {typing}", style="dim", no_wrap=True))


class Screen:
    """Lines printed above a live status on a terminal; on a pipe or in CI only the lines."""

    def __init__(self, view: JobView, console: Console) -> None:
        self.view = view
        self.console = console
        self.live = (
            Live(_LiveStatus(view, console), console=console, refresh_per_second=8, transient=True)
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

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """While a person answers a prompt: the live status stops redrawing over it."""
        if self.live is None:
            yield
            return
        self.live.stop()
        try:
            yield
        finally:
            self.live.start()

    def show(self, lines: Iterable[Line]) -> None:
        for line in lines:
            stamp = Text(f"[{clock(line.at - self.view.started)}] ", style="dim")
            self.console.print(stamp + Text(line.text, style=line.style), soft_wrap=True)
