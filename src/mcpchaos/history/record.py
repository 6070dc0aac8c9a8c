"""One recorded message, and one session's history (sans-IO: data only).

A history has two *wires* per session, because with faults in the middle the two peers do not
see the same conversation:

* the **client wire** — what the client sent (read by the proxy) and what the client was given
  (written by the proxy, after faults);
* the **server wire** — what the server was given (after faults) and what the server sent.

Each message the proxy reads is an ``in`` entry on the wire of the peer that sent it; each
message it writes is an ``out`` entry on the wire of the peer it went to. With no fault the two
wires carry the same messages; a dropped request is on the client wire only, an injected error
answers on the client wire only, a duplicated response is twice on the client wire. So each
wire is one complete JSON-RPC conversation between two parties, and every invariant is judged
per (session, wire): a violation on the server wire is the server's own conduct given what it
was sent; one on the client wire is what the client experienced.

Entries keep the message's wire bytes, not the parsed payload (half the memory, and exactly
what went over the wire); :attr:`Entry.payload` parses them when the checker asks.

Tapes (issue 19) reuse this record: an :class:`Entry` already holds direction, monotonic time,
session, transport metadata (``meta``: HTTP status, MCP headers), the faults injected on it and
the bytes; the request/response pairing is :func:`mcpchaos.history.pairing.pair`. A tape writer
is one more consumer of :class:`mcpchaos.observe.history.HistoryRecorder`'s entries (a listener
called with each new entry), serialising :meth:`Entry.as_dict` plus the raw bytes, with
redaction applied there; it is not a second recording hook in the pump.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

import orjson

from mcpchaos.protocol.messages import Direction, Kind, MessageId

Wire = Literal["client", "server"]
CLIENT: Final = "client"
SERVER: Final = "server"

IN_WIRE: Final[dict[Direction, Wire]] = {
    Direction.CLIENT_TO_SERVER: "client",
    Direction.SERVER_TO_CLIENT: "server",
}
"""The wire a message read from a peer belongs to (the sender's)."""
OUT_WIRE: Final[dict[Direction, Wire]] = {
    Direction.CLIENT_TO_SERVER: "server",
    Direction.SERVER_TO_CLIENT: "client",
}
"""The wire a message written to a peer belongs to (the receiver's)."""


class Entry:
    """One message as one peer saw it. Plain slots, built once per message on the hot path."""

    __slots__ = (
        "_payload",
        "direction",
        "faults",
        "id",
        "kind",
        "meta",
        "method",
        "ordinal",
        "raw",
        "seq",
        "time",
        "wire",
        "written",
    )

    def __init__(
        self,
        seq: int,
        time: float,
        wire: Wire,
        written: bool,
        direction: Direction,
        kind: Kind,
        message_id: MessageId | None,
        method: str | None,
        raw: bytes,
        ordinal: int = -1,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.seq = seq
        """The entry's place in its session's history (0, 1, 2…, both wires together)."""
        self.time = time
        """Monotonic seconds (the proxy's event-loop clock) it was read or written."""
        self.wire = wire
        self.written = written
        """True: the proxy wrote it to the wire's peer (``out``); False: read from it (``in``)."""
        self.direction = direction
        """Which way it travels: on either wire, client → server is the client's role speaking."""
        self.kind = kind
        self.id = message_id
        self.method = method
        self.raw = raw
        self.ordinal = ordinal
        """For an ``in`` entry, the pump's per-direction ordinal (what fault records name)."""
        self.meta = meta
        """Transport metadata where the transport has it: ``status`` (HTTP), ``headers``
        (the MCP headers as the client sent them, lower-case names)."""
        self.faults: list[str] | None = None
        """Faults the injector chose for this message (``in`` entries; kind, or kind:mode)."""
        self._payload: dict[str, Any] | None = None

    @property
    def payload(self) -> dict[str, Any]:
        """The message as JSON (parsed on first use; bytes a corruption fault broke: ``{}``)."""
        if self._payload is None:
            try:
                value = orjson.loads(self.raw)
            except orjson.JSONDecodeError:
                value = None
            self._payload = value if isinstance(value, dict) else {}
        return self._payload

    @property
    def params(self) -> dict[str, Any]:
        params = self.payload.get("params")
        return params if isinstance(params, dict) else {}

    @property
    def meta_field(self) -> dict[str, Any]:
        """``params._meta`` (progress tokens, protocol version, subscription ids)."""
        meta = self.params.get("_meta")
        return meta if isinstance(meta, dict) else {}

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (no body): what ``GET /history`` and a tape line start from."""
        data: dict[str, Any] = {
            "seq": self.seq,
            "time": round(self.time, 6),
            "wire": self.wire,
            "io": "out" if self.written else "in",
            "direction": self.direction.value,
            "kind": self.kind.value,
            "method": self.method,
            "id": self.id,
        }
        if self.meta:
            data["meta"] = _without_credentials(self.meta)
        if self.faults:
            data["faults"] = self.faults
        return data

    def __repr__(self) -> str:
        io = "out" if self.written else "in"
        return f"Entry(#{self.seq} {self.wire}/{io} {self.kind.value} {self.method or ''} id={self.id!r})"


def _without_credentials(meta: dict[str, Any]) -> dict[str, Any]:
    """Metadata with credential header values hidden (what ``GET /history`` may show)."""
    from mcpchaos.history.redact import Redactor

    return Redactor().meta(meta) or meta


Raw = tuple[float, int, int, MessageId | None, str | None, bytes, int]
"""One recorded message as the hot path stores it: (time, side code, kind code, id, method,
bytes, ordinal). Only atoms (numbers, strings, bytes, None), so the cyclic garbage collector
untracks the tuple at its first pass and never walks the history again (with enum members in
them, collections over a large history tripled the cost of recording). A tuple costs a tenth
of an object to build; :meth:`SessionHistory.view` turns them into :class:`Entry` objects when
the checker (or a tape writer) reads them."""

SIDE_CODES: Final = (
    (Direction.CLIENT_TO_SERVER, False),
    (Direction.SERVER_TO_CLIENT, False),
    (Direction.CLIENT_TO_SERVER, True),
    (Direction.SERVER_TO_CLIENT, True),
)
"""Side code → (direction, written): 0/1 read client → server / server → client, 2/3 written."""
KIND_CODES: Final = (Kind.REQUEST, Kind.NOTIFICATION, Kind.RESULT, Kind.ERROR)
"""Kind code → kind."""


def kind_code(kind: Kind) -> int:
    """The code :data:`KIND_CODES` decodes (identity tests: an enum's hash is Python code)."""
    if kind is Kind.REQUEST:
        return 0
    if kind is Kind.NOTIFICATION:
        return 1
    return 2 if kind is Kind.RESULT else 3


@dataclass(slots=True)
class SessionHistory:
    """One session's messages, in the order the proxy read and wrote them."""

    key: str
    """The session's id when last seen (an HTTP session is renamed once its id is known)."""
    ordinal: int
    transport: str
    raw: list[Raw | float] = field(default_factory=list)
    """The entries as recorded. A bare float is the commonest entry made cheap: the message
    of the read entry just before it, written on unchanged at that time (no tuple built)."""
    meta: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Transport metadata by entry seq (see :attr:`Entry.meta`)."""
    faults: dict[int, list[str]] = field(default_factory=dict)
    """Faults injected, by the seq of the entry they were injected on."""
    truncated: int = 0
    """Messages not recorded because the session reached its cap (the history is a prefix)."""
    pending_meta: dict[str, Any] | None = None
    """Transport metadata for the next message read (set by the transport just before it)."""

    def view(self) -> list[Entry]:
        """The entries, as objects (built anew on each call)."""
        return [self.entry(seq) for seq in range(len(self.raw))]

    def entry(self, seq: int) -> Entry:
        """Entry ``seq`` as an object. A bare time stands for the read entry just before it,
        written on unchanged (the recorder only writes one right after that read)."""
        item = self.raw[seq]
        if isinstance(item, tuple):
            time, side, kind, message_id, method, raw, ordinal = item
        else:
            read = self.raw[seq - 1]
            assert isinstance(read, tuple)
            _, side, kind, message_id, method, raw, _ = read
            time, side, ordinal = item, side + 2, -1
        direction, written = SIDE_CODES[side]
        wire = (OUT_WIRE if written else IN_WIRE)[direction]
        entry = Entry(seq, time, wire, written, direction, KIND_CODES[kind], message_id, method, raw, ordinal)
        if self.meta:
            entry.meta = self.meta.get(seq)
        if self.faults:
            entry.faults = self.faults.get(seq)
        return entry

    def snapshot(self) -> SessionHistory:
        """A copy that later recording does not change (so a check can run off the loop)."""
        return SessionHistory(
            self.key,
            self.ordinal,
            self.transport,
            list(self.raw),
            dict(self.meta),
            dict(self.faults),
            self.truncated,
        )

    @classmethod
    def of(cls, key: str, entries: list[Entry], ordinal: int = 1, transport: str = "test") -> SessionHistory:
        """A history holding ``entries`` (made-up histories in tests; entries renumbered)."""
        history = cls(key, ordinal, transport)
        for seq, e in enumerate(entries):
            side = (2 if e.written else 0) + (e.direction is Direction.SERVER_TO_CLIENT)
            history.raw.append((e.time, side, kind_code(e.kind), e.id, e.method, e.raw, e.ordinal))
            if e.meta is not None:
                history.meta[seq] = e.meta
            if e.faults:
                history.faults[seq] = e.faults
        return history
