"""What a kernel writes to its file descriptors 1 and 2 (C extensions, ``os.write``, subprocesses), read by
the server from pipes it gives the kernel in place of stdout and stderr.

ipykernel can capture these itself (``capture_fd_output``): a thread in the kernel reads a pipe and
forwards the text as output messages. That thread may not have read the last bytes when the call ends
(measured with the CPU otherwise busy: 6 answers in 2,000 lost some of what ``os.write`` and ``os.system``
wrote), and it also echoes everything to the kernel's inherited stdout, which is the server's log: user
data in CloudWatch. Here the server reads instead: the kernel writes into the pipe before it reports the
call finished, so one read of what is left when the kernel says idle gets all of it.

Between calls (the kernel's start, threads user code left running) output goes nowhere.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
from typing import Protocol

READ_BYTES = 65536


class Sink(Protocol):
    def write(self, text: str) -> None: ...


class _Stream:
    def __init__(self) -> None:
        self.read_end, self.write_end = os.pipe()
        os.set_blocking(self.read_end, False)
        self.sink: Sink | None = None
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.open = True

    def pump(self) -> None:
        """Read what the pipe holds now, into the sink if there is one."""
        while self.open:
            try:
                data = os.read(self.read_end, READ_BYTES)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:  # every writer is gone: the kernel died
                self.open = False
                return
            if self.sink is not None:
                self.sink.write(self.decoder.decode(data))

    def finish(self) -> None:
        self.pump()
        if self.sink is not None:
            self.sink.write(self.decoder.decode(b"", final=True))
        self.decoder.reset()
        self.sink = None


class KernelDescriptors:
    """A kernel's stdout and stderr pipes. ``child_ends`` go to the kernel's start; ``listen`` after it."""

    def __init__(self) -> None:
        self._streams = (_Stream(), _Stream())
        self._loop: asyncio.AbstractEventLoop | None = None

    def child_ends(self) -> dict[str, int]:
        """The keyword arguments that make these pipes the kernel's stdout and stderr (Popen's)."""
        stdout, stderr = self._streams
        return {"stdout": stdout.write_end, "stderr": stderr.write_end}

    def listen(self) -> None:
        """Close the server's copies of the kernel's ends (so a dead kernel reads as the end of the pipes) and
        read whatever arrives, so that a kernel writing a lot never blocks on a full pipe."""
        self._close_child_ends()
        self._loop = asyncio.get_running_loop()
        for stream in self._streams:
            self._loop.add_reader(stream.read_end, self._readable, stream)

    def _readable(self, stream: _Stream) -> None:
        stream.pump()
        if not stream.open and self._loop is not None:
            self._loop.remove_reader(stream.read_end)  # at its end a pipe reads as ready, forever

    def begin(self, stdout: Sink, stderr: Sink) -> None:
        """From now until ``end``, the kernel's output goes to these (a call's)."""
        for stream, sink in zip(self._streams, (stdout, stderr), strict=True):
            stream.pump()  # what came between calls goes nowhere
            stream.sink = sink

    def end(self) -> None:
        """The call is over: what the kernel wrote until now (all of it is in the pipes) goes to its sinks."""
        for stream in self._streams:
            stream.finish()

    def close(self) -> None:
        self._close_child_ends()
        for stream in self._streams:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(stream.read_end)
            stream.open = False
            with contextlib.suppress(OSError):
                os.close(stream.read_end)
        self._loop = None

    def _close_child_ends(self) -> None:
        for stream in self._streams:
            if stream.write_end >= 0:
                with contextlib.suppress(OSError):
                    os.close(stream.write_end)
                stream.write_end = -1
