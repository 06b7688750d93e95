"""What a model is told of a call it made in the executor: what it needs to act, in few tokens.

Every later turn of the agent sends every earlier tool result again, so a result's size is paid once per
turn that follows it. What is cut, and why:

- ANSI colour codes and carriage-return progress redraws (tqdm, pip): only the last state of a line is read.
- A run of one repeated line (a warning in a loop) becomes the line and a count.
- Lines longer than ``LINE_CHARS`` (a printed list, a JSON dump) keep their start and say how much is left.
- Output over its budget keeps its first and last lines, cut at line boundaries, and says how many lines
  were left out: the start shows what was printed, the end is where results and errors are.
- A traceback keeps the frames of the model's own code (``Cell In[n]``, files in the workspace) and the
  exception; frames inside installed libraries are counted, not shown, and an exception that caused it is
  reduced to its last line.
"""

from __future__ import annotations

import re

from deep_insight_contract.executor import ExecuteResult

STDOUT_CHARS = 4000
STDERR_CHARS = 1500
TRACEBACK_CHARS = 2500
LINE_CHARS = 400

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CHAINED = re.compile(
    r"\n\n(?:The above exception was the direct cause of the following exception:"
    r"|During handling of the above exception, another exception occurred:)\n\n"
)
FRAME_START = re.compile(r"^(?:Cell In\[\d+\]|Input In \[\d+\]|File )")
FRAME_FILE = re.compile(r"^File (\S+?):\d+")
LIBRARY_PATH = re.compile(r"site-packages|dist-packages|/lib/python3\.\d+/")


def clean(text: str) -> str:
    """Without colour codes, with each carriage-return redraw reduced to the line's last state."""
    text = ANSI.sub("", text).replace("\r\n", "\n")
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))


def collapse_repeats(lines: list[str]) -> list[str]:
    out: list[str] = []
    index = 0
    while index < len(lines):
        end = index
        while end + 1 < len(lines) and lines[end + 1] == lines[index]:
            end += 1
        out.append(lines[index])
        if end > index:
            out.append(f"[the line above repeated {end - index} more time(s)]")
        index = end + 1
    return out


def shorten_line(line: str, limit: int = LINE_CHARS) -> str:
    if len(line) <= limit:
        return line
    return f"{line[:limit]}… [{len(line) - limit} more characters on this line]"


def head_and_tail(lines: list[str], budget: int) -> list[str]:
    """Whole lines from both ends within ``budget`` characters (newlines counted), the rest named by count."""
    if sum(len(line) + 1 for line in lines) <= budget:
        return lines
    half = budget // 2
    head: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > half:
            break
        head.append(line)
        used += len(line) + 1
    tail: list[str] = []
    used = 0
    for line in reversed(lines[len(head) :]):
        if used + len(line) + 1 > budget - half:
            break
        tail.append(line)
        used += len(line) + 1
    tail.reverse()
    omitted = len(lines) - len(head) - len(tail)
    return [*head, f"[… {omitted} line(s) left out …]", *tail]


def trim_text(text: str, budget: int) -> str:
    lines = [shorten_line(line) for line in collapse_repeats(clean(text).rstrip("\n").split("\n"))]
    return "\n".join(head_and_tail(lines, budget))


def _is_library_frame(frame: str) -> bool:
    match = FRAME_FILE.match(frame)
    # IPython writes the model's own files as absolute or ~/ paths; a relative one is a compiled
    # extension's source (pandas/_libs/index.pyx).
    return match is not None and (LIBRARY_PATH.search(match[1]) is not None or not match[1].startswith(("/", "~")))


def _frames(chunk: str) -> list[str]:
    frames: list[str] = []
    for line in chunk.split("\n"):
        if FRAME_START.match(line) or not frames:
            frames.append(line)
        else:
            frames[-1] += "\n" + line
    return frames


def short_traceback(traceback: str) -> str:
    """The model's own frames and the exception; library frames counted; a cause by its last line (when it
    says something the exception does not)."""
    parts = CHAINED.split(clean(traceback).strip("\n"))
    chunks = [chunk for chunk in parts[-1].split("\n\n") if chunk.strip()]
    if len(chunks) < 2:
        return trim_text(parts[-1], TRACEBACK_CHARS)  # not the frame layout (a SyntaxError's, say): cut only
    *frame_chunks, exception = chunks
    causes = [cause for part in parts[:-1] if (cause := part.strip().rsplit("\n", 1)[-1]) != exception.strip()]
    kept: list[str] = []
    hidden = 0
    for frame in (f for chunk in frame_chunks for f in _frames(chunk)):
        if not FRAME_START.match(frame):
            continue  # IPython's ---- rule and the "Traceback (most recent call last)" header line
        if _is_library_frame(frame):
            hidden += 1
            continue
        if hidden:
            kept.append(f"[{hidden} frame(s) in library code left out]")
            hidden = 0
        kept.append(frame)
    if hidden:
        kept.append(f"[{hidden} frame(s) in library code left out]")
    lines = [*(f"caused by: {cause}" for cause in causes), *kept, exception]
    return trim_text("\n".join(lines), TRACEBACK_CHARS)


def summarize(result: ExecuteResult) -> str:
    """The tool result a model gets for one executor call."""
    parts = [f"status: {result.status}"]
    if result.stdout.strip():
        parts.append(f"stdout:\n{trim_text(result.stdout, STDOUT_CHARS)}")
    if result.stderr.strip():
        parts.append(f"stderr:\n{trim_text(result.stderr, STDERR_CHARS)}")
    if result.error is not None:
        error = result.error
        headline = f"{error.type}: {error.message}"
        parts.append(f"error: {shorten_line(headline)}")
        if error.traceback:
            frames = short_traceback(error.traceback)
            parts.append(frames.removesuffix(f"\n{headline}"))  # the error line above says it already
    if len(parts) == 1:
        parts.append("(no output)")
    return "\n".join(parts)
