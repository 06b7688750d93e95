"""Capped capture of a stream: keeps the head and the tail, drops the middle, says how much.

The cut falls on line boundaries when the kept part has one (a half line reads as data that is not
there); a single line longer than the cap is cut by bytes, at a character boundary."""

from __future__ import annotations


class CappedText:
    def __init__(self, limit_bytes: int) -> None:
        self._head_limit = limit_bytes // 2
        self._tail_limit = limit_bytes - self._head_limit
        self._head = bytearray()
        self._tail = bytearray()
        self._before_tail = ord("\n")
        """The byte just before the tail in the stream: whether the tail starts a line."""
        self.total = 0

    def write(self, text: str | bytes) -> None:
        data = text.encode("utf-8", "replace") if isinstance(text, str) else text
        self.total += len(data)
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if data:
            self._tail += data
            if len(self._tail) > self._tail_limit:
                cut = len(self._tail) - self._tail_limit
                self._before_tail = self._tail[cut - 1]
                del self._tail[:cut]

    @property
    def truncated(self) -> bool:
        return self.total > len(self._head) + len(self._tail)

    def text(self) -> str:
        head, tail = bytes(self._head), bytes(self._tail)
        if not self.truncated:
            return (head + tail).decode("utf-8", "replace")
        end = head.rfind(b"\n")
        if end >= 0:
            head = head[: end + 1]
        start = tail.find(b"\n")
        if self._before_tail != ord("\n") and 0 <= start < len(tail) - 1:
            tail = tail[start + 1 :]
        dropped = self.total - len(head) - len(tail)
        marker = f"... [{dropped} bytes of output truncated] ...\n"
        if not head.endswith(b"\n"):
            marker = "\n" + marker
        return head.decode("utf-8", "ignore") + marker + tail.decode("utf-8", "ignore")
