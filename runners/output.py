"""Output capture that keeps the tail of a stream within a byte budget."""

from __future__ import annotations

MAX_OUTPUT_BYTES = 256 * 1024


class TailBuffer:
    """Keeps the last ``limit`` bytes written, and counts what it dropped."""

    def __init__(self, limit: int = MAX_OUTPUT_BYTES) -> None:
        self.limit = limit
        self.dropped = 0
        self._data = bytearray()

    def write(self, chunk: bytes) -> None:
        self._data += chunk
        excess = len(self._data) - self.limit
        # Trim in large steps so a chatty command does not cost a copy per chunk.
        if excess > 0 and (excess > self.limit // 4 or len(self._data) > 2 * self.limit):
            del self._data[:excess]
            self.dropped += excess

    def text(self) -> str:
        """The kept tail as text, with a first line saying how much was cut."""
        excess = len(self._data) - self.limit
        data = bytes(self._data[excess:]) if excess > 0 else bytes(self._data)
        dropped = self.dropped + max(excess, 0)
        body = data.decode("utf-8", errors="replace")
        if dropped:
            return f"[... {dropped} earlier bytes cut; the last {len(data)} kept ...]\n{body}"
        return body
