"""Newline-delimited JSON framing for the stdio transport, sans-IO.

MCP's stdio transport sends one JSON-RPC message per line (``\\n``; a ``\\r`` before it is
tolerated and stripped). :class:`NdjsonFramer` takes bytes as they arrive and hands out
whole lines, h11 style::

    framer.feed(chunk)
    while (frame := framer.next_frame()) is not NEED_DATA:
        ...  # bytes of one line, or OversizedLine

A line longer than ``max_line_bytes`` is discarded as it streams in (memory stays bounded)
and reported once as :class:`OversizedLine`, with the id recovered from its first bytes
when it is there, so the sender can still be answered.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Final

from mcpchaos.protocol.messages import MessageId

DEFAULT_MAX_LINE_BYTES: Final = 16 * 1024 * 1024
"""16 MiB: far above any sane MCP message, low enough to stop a runaway peer."""

_ID_PREFIX_BYTES: Final = 1024
# An id near the start of an object, optionally after "jsonrpc": the order SDKs write.
_LEADING_ID = re.compile(
    rb'^\s*\{\s*(?:"jsonrpc"\s*:\s*"[^"]*"\s*,\s*)?"id"\s*:\s*(-?\d{1,18}|"(?:[^"\\]|\\.){0,256}")\s*[,}]'
)


class _NeedData:
    """Sentinel: no complete line is buffered; feed more bytes."""

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = _NeedData()


@dataclass(frozen=True, slots=True)
class OversizedLine:
    """A line that exceeded the limit and was discarded."""

    size: int
    """Bytes seen for the line (all of it if it ended, else up to the point it was cut)."""
    limit: int
    id: MessageId | None
    """The id found at the start of the line, when one was (best effort)."""
    complete: bool
    """True when the end of the line was seen (False: cut at end of stream)."""


def recover_leading_id(prefix: bytes) -> MessageId | None:
    """Best-effort: the top-level id of a JSON-RPC object from its first bytes."""
    match = _LEADING_ID.match(prefix[:_ID_PREFIX_BYTES])
    if match is None:
        return None
    token = match.group(1)
    if token.startswith(b'"'):
        try:  # the JSON string, escapes read (a\u00e9 is "aé"), as the full parse would read it
            value = json.loads(token.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None
        return value if isinstance(value, str) else None
    return int(token)


class NdjsonFramer:
    """Split a byte stream into lines, with a size limit per line."""

    __slots__ = ("_buffer", "_discard_id", "_discarded", "_discarding", "_max", "_scanned")

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be at least 1")
        self._max = max_line_bytes
        self._buffer = bytearray()
        self._scanned = 0  # bytes of _buffer already known to hold no newline
        self._discarding = False
        self._discarded = 0
        self._discard_id: MessageId | None = None

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the end of their line."""
        return len(self._buffer)

    def feed(self, data: bytes) -> None:
        """Add bytes received from the peer."""
        self._buffer += data

    def next_frame(self) -> bytes | OversizedLine | _NeedData:
        """The next whole line (without ``\\n`` / ``\\r\\n``), an :class:`OversizedLine`,
        or ``NEED_DATA``. Empty lines are skipped."""
        while True:
            newline = self._buffer.find(b"\n", self._scanned)
            if self._discarding:
                if newline < 0:
                    self._discarded += len(self._buffer)
                    self._buffer.clear()
                    self._scanned = 0
                    return NEED_DATA
                size = self._discarded + newline
                del self._buffer[: newline + 1]
                self._scanned = 0
                self._discarding = False
                return OversizedLine(size, self._max, self._discard_id, complete=True)
            if newline < 0:
                if len(self._buffer) > self._max:
                    self._start_discarding()
                    continue
                self._scanned = len(self._buffer)
                return NEED_DATA
            end = newline - 1 if newline > 0 and self._buffer[newline - 1] == 0x0D else newline
            if end > self._max:
                self._start_discarding()
                continue
            line = bytes(self._buffer[:end])
            del self._buffer[: newline + 1]
            self._scanned = 0
            if line.strip():
                return line

    def close(self) -> bytes | OversizedLine | _NeedData:
        """End of stream: a last line without a terminator, if any, or the cut-off
        oversized line being discarded. Call once after the peer closed."""
        if self._discarding:
            self._discarding = False
            size = self._discarded + len(self._buffer)
            self._buffer.clear()
            return OversizedLine(size, self._max, self._discard_id, complete=False)
        line = bytes(self._buffer).rstrip(b"\r")
        self._buffer.clear()
        self._scanned = 0
        return line if line.strip() else NEED_DATA

    def _start_discarding(self) -> None:
        self._discard_id = recover_leading_id(bytes(self._buffer[:_ID_PREFIX_BYTES]))
        self._discarding = True
        self._discarded = 0
        # Drop what we hold, up to (not including) any newline: the loop then finds it.
        newline = self._buffer.find(b"\n")
        if newline < 0:
            self._discarded = len(self._buffer)
            self._buffer.clear()
        else:
            self._discarded = newline
            del self._buffer[:newline]
        self._scanned = 0
