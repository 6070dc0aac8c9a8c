"""The tape format: a recorded proxy run as versioned JSON lines (sans-IO; docs/tapes.md).

A tape is what :class:`mcpchaos.observe.history.HistoryRecorder` records, one line per entry, so
a tape and the history checker see the same two-sided conversation. Line 1 is the header::

    {"format": "mcpchaos-tape", "version": 1, "mcpchaos": "0.1.0", "shape": "stdio",
     "era": "2025-11-25", "started": "2026-12-02T03:00:00Z", "redaction": {...} | false}

then one line per message (:func:`line`): ``session`` (ordinal), ``session_id``, ``seq`` (the
entry's place in its session), ``t`` (seconds since the tape began), ``wire`` (client|server),
``io`` (in: read from that wire's peer, out: written to it), ``direction``, ``kind``,
``method``, ``id``, ``meta`` (HTTP status, MCP headers, SSE event id), ``faults``,
``reply_to`` (a response's or cancellation's request, by its ``seq`` in the same session and
wire) and ``message`` (the JSON-RPC message; ``raw`` instead when it was not JSON, e.g.
corrupted). A last ``{"end": true, ...}`` line counts what the writer could not write.
Readers accept any version up to :data:`VERSION` and ignore fields they do not know.

A live proxy's history is served as a tape too (:func:`from_histories`, ``GET
/history?format=tape``); its header adds ``t0``, the proxy's monotonic clock at ``time`` 0, so
a reader on the same machine can place the lines on its own monotonic clock (``mcpchaos
judge`` compares them with when its client started and exited).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from mcpchaos.errors import ConfigError
from mcpchaos.history.pairing import Pairer
from mcpchaos.history.record import Entry, SessionHistory, Wire
from mcpchaos.history.redact import Redactor
from mcpchaos.protocol.messages import Direction, Kind

FORMAT: Final = "mcpchaos-tape"
VERSION: Final = 1
LEGACY_ERA: Final = "2025-11-25"
"""The initialize handshake and sessions."""
SESSIONLESS_ERA: Final = "2026-07-28"
"""server/discover, no handshake."""
_DIRECTIONS: Final = {d.value: d for d in Direction}
_KINDS: Final = {k.value: k for k in Kind}


def era_of(entry: Entry) -> str:
    """The protocol era a tape's first message shows: the handshake, or not."""
    return LEGACY_ERA if entry.method == "initialize" else SESSIONLESS_ERA


def header(shape: str, era: str, version: str, started: str, redactor: Redactor) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "mcpchaos": version,
        "shape": shape,
        "era": era,
        "started": started,
        "redaction": redactor.describe(),
    }


def line(
    history: SessionHistory, entry: Entry, t: float, reply_to: int | None, redactor: Redactor
) -> dict[str, Any]:
    """One entry as a tape line (``t``: seconds since the tape began)."""
    data = entry.as_dict()
    data["time"] = round(t, 6)
    data["session"] = history.ordinal
    data["session_id"] = history.key
    data["transport"] = history.transport
    meta = redactor.meta(entry.meta)
    if meta:
        data["meta"] = meta
    if reply_to is not None:
        data["reply_to"] = reply_to
    try:
        data["message"] = redactor.message(orjson.loads(entry.raw), entry.raw)
    except orjson.JSONDecodeError:
        data["raw"] = entry.raw.decode("utf-8", "replace")
    return data


def from_histories(
    histories: Iterable[SessionHistory], shape: str, version: str, started: str, redactor: Redactor
) -> Iterator[bytes]:
    """Recorded histories as a tape, line by line (no end line: nothing was dropped writing it).
    Sessions follow one another (oldest first), each in its own order."""
    views = [(history, history.view()) for history in histories]
    views = [(history, entries) for history, entries in views if entries]
    if not views:
        return
    t0 = min(entries[0].time for _, entries in views)
    first = min((entries[0] for _, entries in views), key=lambda entry: entry.time)
    yield dumps({**header(shape, era_of(first), version, started, redactor), "t0": t0})
    for history, entries in views:
        pairers: dict[Wire, Pairer] = {}
        for entry in entries:
            call = pairers.setdefault(entry.wire, Pairer(keep_calls=False)).add(entry)
            reply_to = call.request.seq if call is not None else None
            yield dumps(line(history, entry, entry.time - t0, reply_to, redactor))


def dumps(data: dict[str, Any]) -> bytes:
    """One JSON line (the standard library for what orjson refuses: an id beyond 64 bits)."""
    try:
        return orjson.dumps(data) + b"\n"
    except TypeError:
        import json

        return json.dumps(data, default=repr).encode() + b"\n"


@dataclass(slots=True)
class Tape:
    """A tape as read: its header, its message lines in order, and its end line if any."""

    header: dict[str, Any]
    lines: list[dict[str, Any]] = field(default_factory=list)
    end: dict[str, Any] | None = None

    def sessions(self) -> list[int]:
        return sorted({int(item["session"]) for item in self.lines})

    def entries(self, session: int, wire: Wire) -> list[Entry]:
        """One session's wire as history entries (for :func:`mcpchaos.history.pairing.pair`)."""
        result = []
        for item in self.lines:
            if item["session"] != session or item["wire"] != wire:
                continue
            raw = orjson.dumps(item["message"]) if "message" in item else item.get("raw", "").encode()
            entry = Entry(
                int(item["seq"]),
                float(item["time"]),
                wire,
                item["io"] == "out",
                _DIRECTIONS[item["direction"]],
                _KINDS[item["kind"]],
                item.get("id"),
                item.get("method"),
                raw,
                meta=item.get("meta"),
            )
            entry.faults = item.get("faults")
            result.append(entry)
        return result


def parse(lines: Iterable[bytes], name: str = "tape") -> Tape:
    """Read a tape; a file that is not one is a :class:`ConfigError` naming the line."""
    tape: Tape | None = None
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise ConfigError(f"{name}: line {number} is not JSON") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{name}: line {number} is not a JSON object")
        if tape is None:
            if data.get("format") != FORMAT:
                raise ConfigError(f"{name}: not an mcpchaos tape (no tape header on line 1)")
            if not isinstance(data.get("version"), int) or data["version"] > VERSION:
                raise ConfigError(
                    f"{name}: tape format version {data.get('version')!r}; "
                    f"this mcpchaos reads up to {VERSION}"
                )
            tape = Tape(data)
        elif data.get("end") is True:
            tape.end = data
        else:
            tape.lines.append(data)
    if tape is None:
        raise ConfigError(f"{name}: empty file, not an mcpchaos tape")
    return tape


def read(path: str) -> Tape:
    """Read a tape file (a missing or unreadable file is a :class:`ConfigError`)."""
    try:
        with open(path, "rb") as file:
            return parse(file, path)
    except OSError as exc:
        raise ConfigError(f"cannot read the tape {path}: {exc.strerror or exc}") from None
