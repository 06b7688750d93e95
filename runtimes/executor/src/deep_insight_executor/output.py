"""Capped capture of a stream: keeps the head and the tail, drops the middle, says how much."""

from __future__ import annotations


class CappedText:
    def __init__(self, limit_bytes: int) -> None:
        self._head_limit = limit_bytes // 2
        self._tail_limit = limit_bytes - self._head_limit
        self._head = bytearray()
        self._tail = bytearray()
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
                del self._tail[: len(self._tail) - self._tail_limit]

    @property
    def truncated(self) -> bool:
        return self.total > len(self._head) + len(self._tail)

    def text(self) -> str:
        if not self.truncated:
            return (bytes(self._head) + bytes(self._tail)).decode("utf-8", "replace")
        dropped = self.total - len(self._head) - len(self._tail)
        marker = f"\n... [{dropped} bytes of output truncated] ...\n"
        return bytes(self._head).decode("utf-8", "replace") + marker + bytes(self._tail).decode("utf-8", "replace")
