"""Made-up histories for the checker's unit tests: messages as each peer saw them."""

from __future__ import annotations

from typing import Any

import orjson

from mcpchaos.history.record import IN_WIRE, OUT_WIRE, Entry, SessionHistory
from mcpchaos.protocol.messages import Direction, Kind, Message, parse

C2S = Direction.CLIENT_TO_SERVER
S2C = Direction.SERVER_TO_CLIENT
V2026 = {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}


class Builder:
    """Appends entries to one session's history; time advances 10 ms a message."""

    def __init__(self, key: str = "s-1") -> None:
        self.key = key
        self.entries: list[Entry] = []
        self.now = 0.0

    @property
    def history(self) -> SessionHistory:
        """The history so far (faults set on its entries included)."""
        return SessionHistory.of(self.key, self.entries)

    def _entry(self, direction: Direction, payload: dict[str, Any], written: bool, meta: Any = None) -> Entry:
        message = parse(orjson.dumps({"jsonrpc": "2.0", **payload}))
        assert isinstance(message, Message), message
        entries = self.entries
        wire = OUT_WIRE[direction] if written else IN_WIRE[direction]
        entry = Entry(
            len(entries), self.now, wire, written, direction, message.kind, message.id, message.method,
            message.wire, meta=meta,
        )  # fmt: skip
        entries.append(entry)
        return entry

    def passes(self, direction: Direction, payload: dict[str, Any], meta: Any = None) -> Entry:
        """A message read from its sender and written unchanged to the other peer."""
        self.now += 0.01
        read = self._entry(direction, payload, False, meta)
        self._entry(direction, payload, True)
        return read

    def read_only(self, direction: Direction, payload: dict[str, Any]) -> Entry:
        """Read from its sender, never delivered (dropped, or answered by a fault)."""
        self.now += 0.01
        return self._entry(direction, payload, False)

    def written_only(self, direction: Direction, payload: dict[str, Any]) -> Entry:
        """Delivered to a peer, never read from the other (made by a fault)."""
        self.now += 0.01
        return self._entry(direction, payload, True)

    def request(self, rid: Any, method: str, params: dict[str, Any] | None = None) -> Entry:
        return self.passes(C2S, {"id": rid, "method": method, "params": params or {}})

    def result(self, rid: Any, result: dict[str, Any] | None = None) -> Entry:
        return self.passes(S2C, {"id": rid, "result": result if result is not None else {}})

    def notify(self, direction: Direction, method: str, params: dict[str, Any]) -> Entry:
        return self.passes(direction, {"method": method, "params": params})


def kinds() -> set[Kind]:
    return set(Kind)
