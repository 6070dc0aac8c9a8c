"""Run the framers over a byte stream cut into chunks, into comparable values (shared by
``test_framers.py`` and ``atheris_framers.py``)."""

from __future__ import annotations

import itertools
from typing import Any

from mcpchaos.protocol.ndjson import NEED_DATA, NdjsonFramer, OversizedLine
from mcpchaos.protocol.sse import OversizedEvent, SseEvent, SseParser


def cut(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` in pieces, cut at ``cuts`` (taken modulo its length)."""
    points = sorted({cut % (len(data) + 1) for cut in cuts} | {0, len(data)})
    return [data[start:end] for start, end in itertools.pairwise(points)]


def ndjson_frames(chunks: list[bytes], limit: int) -> list[Any]:
    framer = NdjsonFramer(limit)
    frames: list[Any] = []
    for chunk in chunks:
        framer.feed(chunk)
        while (frame := framer.next_frame()) is not NEED_DATA:
            frames.append(frame)
        assert framer.buffered <= limit, "a line being read is held whole only up to the limit"
    last = framer.close()
    if last is not NEED_DATA:
        frames.append(last)
    return [(frame.id, frame.complete) if isinstance(frame, OversizedLine) else frame for frame in frames]


def sse_events(chunks: list[bytes], limit: int) -> list[Any]:
    parser = SseParser(limit)
    events: list[Any] = []
    for chunk in chunks:
        parser.feed(chunk)
        while (event := parser.next_event()) is not NEED_DATA:
            events.append(event)
    parser.close()
    while (event := parser.next_event()) is not NEED_DATA:
        events.append(event)
    return [
        "oversized"
        if isinstance(event, OversizedEvent)
        else (event.data, event.event, event.id, event.retry, event.comments)
        for event in events
        if isinstance(event, OversizedEvent | SseEvent)
    ]
