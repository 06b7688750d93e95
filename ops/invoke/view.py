"""The job view: SPEC §7 events → what the user sees (printed lines, the live status line). Pure: no terminal."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from deep_insight_contract.events import EventType

from ops.invoke.text import clock, human_size, plural, summarize

QUIET_AFTER_SECONDS = 20.0  # the runtime sends a keepalive after 15 s of silence: beyond that, say we wait


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
        if kind == EventType.KEEPALIVE:
            self.keepalives += 1
            self.last_keepalive = now
            return []
        self.last_news = now
        if kind == EventType.TEXT:
            lines = self.flush(now) if event["agent"] != self._text_agent else []
            self._text_agent = event["agent"]
            self._text.append(event["text"])
            self.agent, self.activity = event["agent"], "writing"
            return lines
        lines = self.flush(now)
        if kind == EventType.STATUS:
            self.phase = event["phase"]
            if self.agent is None:
                self.activity = "preparing"
            lines.append(Line(now, f"· {event['phase']}", "cyan"))
        elif kind == EventType.AGENT:
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
        elif kind == EventType.TOOL:
            self.tool_calls += 1
            self.agent, self.activity = event["agent"], f"running {event['tool']}"
            lines.append(
                Line(now, f"  {event['agent']} → {event['tool']}{describe_tool_input(event['tool'], event['input'])}")
            )
        elif kind == EventType.TOOL_RESULT:
            self.activity = "thinking"
            if event["status"] != "success":
                lines.append(Line(now, f"  {event['agent']} ✗ {event['tool']} {event['status']}", "red"))
        elif kind == EventType.ARTIFACT:
            self.artifacts.append(event)
            lines.append(Line(now, f"artifact {event['name']} ({human_size(int(event['bytes'] or 0))})"))
        elif kind == EventType.PLAN_REVIEW:
            lines.append(
                Line(now, f"? plan waiting for review ({event['timeoutSeconds']} s, then {event['onTimeout']})", "bold")
            )
        elif kind == EventType.AUDIT:
            if event["passed"]:
                warned = f", {plural(len(event['warnings']), 'warning')}" if event["warnings"] else ""
                lines.append(Line(now, f"✓ audit passed (attempt {event['attempt']}{warned})", "green"))
            else:
                lines.append(
                    Line(
                        now,
                        f"✗ audit: {plural(len(event['defects']), 'defect')} (attempt {event['attempt']})",
                        "yellow",
                    )
                )
                lines += [Line(now, f"    {defect}", "yellow") for defect in event["defects"]]
        elif kind == EventType.ERROR:
            self.error = event
            retry = " (retryable: run it again)" if event["retryable"] else ""
            lines.append(Line(now, f"✗ job failed: {event['message']}{retry}", "bold red"))
        elif kind == EventType.COMPLETE:
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
