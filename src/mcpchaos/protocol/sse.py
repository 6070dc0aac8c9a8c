"""Server-Sent Events framing, sans-IO, as MCP's Streamable HTTP uses it.

:class:`SseParser` takes bytes as they arrive and hands out whole events (h11 style:
``feed`` then ``next_event`` until ``NEED_DATA``). Lines may end in ``\\n``, ``\\r\\n`` or a lone
``\\r``. Comments (``: ping``), ``retry`` and events without data (the priming event a
2025-11-25 server sends) are kept, so a proxy can pass them on as they came.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from mcpchaos.protocol.ndjson import NEED_DATA, _NeedData

DEFAULT_MAX_EVENT_BYTES: Final = 16 * 1024 * 1024


@dataclass(slots=True)
class SseEvent:
    """One event: the fields the SSE specification defines, plus its comment lines."""

    data: str | None = None
    """The data lines joined with ``\\n``; None when the event had no data field."""
    event: str | None = None
    id: str | None = None
    retry: int | None = None
    comments: list[str] = field(default_factory=list)

    @property
    def is_message(self) -> bool:
        """True for an event carrying a JSON-RPC message (data, default event type)."""
        return self.data is not None and self.data != "" and self.event in (None, "message")

    def encode(self) -> bytes:
        """The event as bytes on the wire (``\\n`` line endings, blank line after)."""
        return encode_event(self.data, self.id, self.event, self.retry, self.comments)


@dataclass(frozen=True, slots=True)
class OversizedEvent:
    """An event over the size limit; its bytes were discarded."""

    size: int
    limit: int


def encode_event(
    data: str | bytes | None,
    event_id: str | None = None,
    event: str | None = None,
    retry: int | None = None,
    comments: list[str] | None = None,
) -> bytes:
    """Serialise one SSE event. Data containing newlines becomes several data lines."""
    parts: list[bytes] = []
    for comment in comments or ():
        parts.append(b":" + comment.encode() + b"\n")
    if event is not None:
        parts.append(b"event: " + event.encode() + b"\n")
    if event_id is not None:
        parts.append(b"id: " + event_id.encode() + b"\n")
    if retry is not None:
        parts.append(b"retry: " + str(retry).encode() + b"\n")
    if data is not None:
        raw = data.encode("utf-8", "replace") if isinstance(data, str) else data
        for line in raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"):
            parts.append(b"data: " + line + b"\n")
    parts.append(b"\n")
    return b"".join(parts)


class SseParser:
    """Split an SSE byte stream into events, with a size limit per event."""

    __slots__ = (
        "_buffer",
        "_current",
        "_current_size",
        "_discarding",
        "_max",
        "_mid_line",
        "_pending_cr",
        "last_event_id",
    )

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._max = max_event_bytes
        self._buffer = bytearray()
        self._pending_cr = False
        self._current = SseEvent()
        self._current_size = 0
        self._discarding = False
        self._mid_line = False
        """Discarding, the start of a line was dropped: the next newline ends that line (it is
        not a blank line ending the event)."""
        self.last_event_id: str | None = None
        """The id of the last event that had one (what Last-Event-ID should carry)."""

    def feed(self, data: bytes) -> None:
        """Add bytes received from the stream."""
        if self._pending_cr:
            data = b"\r" + data
            self._pending_cr = False
        if data.endswith(b"\r"):
            # Could be the first half of \r\n: wait for the next byte to decide.
            self._pending_cr = True
            data = data[:-1]
        self._buffer += data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")

    def close(self) -> None:
        """End of stream: a trailing lone ``\\r`` ends its line. An unfinished event is
        dropped, as the SSE specification says."""
        if self._pending_cr:
            self._buffer += b"\n"
            self._pending_cr = False

    def next_event(self) -> SseEvent | OversizedEvent | _NeedData:
        """The next complete event, an :class:`OversizedEvent`, or ``NEED_DATA``."""
        while True:
            newline = self._buffer.find(b"\n")
            if newline < 0:
                if self._current_size + len(self._buffer) > self._max and not self._discarding:
                    self._discarding = True
                if self._discarding:
                    self._current_size += len(self._buffer)
                    self._mid_line = self._mid_line or bool(self._buffer)
                    self._buffer.clear()
                return NEED_DATA
            line = bytes(self._buffer[:newline])
            del self._buffer[: newline + 1]
            if self._mid_line:  # the end of a line whose start was dropped
                self._mid_line = False
                self._current_size += len(line) + 1
                continue
            if not line:
                if self._discarding:
                    size = self._current_size
                    self._reset()
                    return OversizedEvent(size, self._max)
                if self._current_size == 0:
                    continue  # blank lines between events
                event = self._current
                self._reset()
                if event.id is not None:
                    self.last_event_id = event.id
                return event
            self._current_size += len(line) + 1
            if self._current_size > self._max:
                self._discarding = True
            if self._discarding:
                continue
            self._field(line)

    def _reset(self) -> None:
        self._current = SseEvent()
        self._current_size = 0
        self._discarding = False
        self._mid_line = False

    def _field(self, line: bytes) -> None:
        text = line.decode("utf-8", errors="replace")
        if text.startswith(":"):
            self._current.comments.append(text[1:])
            return
        name, _, value = text.partition(":")
        value = value.removeprefix(" ")
        event = self._current
        if name == "data":
            event.data = value if event.data is None else f"{event.data}\n{value}"
        elif name == "event":
            event.event = value
        elif name == "id" and "\0" not in value:
            event.id = value
        elif name == "retry" and value.isdigit():
            event.retry = int(value)
        # Unknown fields are ignored, as the SSE specification says.


__all__ = ["NEED_DATA", "OversizedEvent", "SseEvent", "SseParser", "encode_event"]
