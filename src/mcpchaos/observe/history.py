"""The history recorder: every proxied session's messages, both wires, bounded.

Off by default (``mcpchaos proxy --history``; the harness turns it on). When off, nothing is
built: the chain's ``recorder`` slot is None and the pump pays one attribute test per message;
no interceptor is added to the chain.

Why a pump hook and not an interceptor: an interceptor sees a message before the chain's later
interceptors change it and never sees an injected reply or a late delayed copy, while the
history must hold what each peer actually received. The pump is the one place every message
is read and written, in every proxy shape (stdio, HTTP, HTTP → stdio, stdio → HTTP), so it calls
:meth:`HistoryRecorder.read` for each message it reads and :meth:`HistoryRecorder.written` for
each one it writes (faults applied, timers fired, pending requests failed). Why not a pump
observer (``chain.observers``, the metrics): observers aggregate without the session, and their
presence turns on per-request latency bookkeeping the history does not need.

Bounds: at most ``per_session`` entries per session (later messages are counted in
``truncated``, so a session's history is always a prefix and the checker stays sound), and at
most ``limit`` entries in all: past it, whole sessions are evicted oldest first (counted).

Faults: the recorder listens to the injector (``injector.on_fault``) and marks the entry the
fault was injected on (a fault record names the session ordinal, direction and ordinal).

Tapes (issue 19) are a second consumer of the same entries (see :mod:`mcpchaos.history.record`):
``listeners`` are called with each new entry, so a tape writer subscribes here.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, Final

from mcpchaos.faults.injector import FaultRecord
from mcpchaos.history.record import Entry, SessionHistory
from mcpchaos.intercept.context import Session
from mcpchaos.protocol.messages import Direction, Kind, Message

DEFAULT_LIMIT: Final = 100_000
"""Entries kept in all sessions together (≈ 0.3–1 KB each, the message's bytes included)."""
DEFAULT_PER_SESSION: Final = 10_000
"""Entries kept per session."""
_DIRECTIONS: Final = {d.value: d for d in Direction}
_C2S: Final = Direction.CLIENT_TO_SERVER
_REQUEST: Final = Kind.REQUEST
_NOTIFICATION: Final = Kind.NOTIFICATION
_RESULT: Final = Kind.RESULT


class HistoryRecorder:
    """Bounded per-session histories, fed by the pump."""

    __slots__ = (
        "_room",
        "_sessions",
        "evicted_entries",
        "evicted_sessions",
        "limit",
        "listeners",
        "per_session",
    )

    @property
    def total(self) -> int:
        """Entries held now."""
        return self.limit - self._room

    def __init__(self, limit: int = DEFAULT_LIMIT, per_session: int | None = None) -> None:
        self.limit = max(1, limit)
        self.per_session = max(1, min(per_session or DEFAULT_PER_SESSION, self.limit))
        self._sessions: OrderedDict[int, SessionHistory] = OrderedDict()
        self._room = self.limit
        """Entries that fit before the cap (a countdown: one test per message)."""
        self.evicted_sessions = 0
        self.evicted_entries = 0
        self.listeners: list[Callable[[SessionHistory, Entry], None]] = []
        """Called with each new entry (a tape writer, issue 19). Keep them cheap."""

    # ---- the pump's hooks (the hot path: a tuple appended, nothing parsed) --------------

    def read(
        self, session: Session, direction: Direction, message: Message, now: float, ordinal: int
    ) -> None:
        """The proxy read ``message`` from the peer ``direction`` starts at."""
        history = self._sessions.get(session.ordinal)
        if history is None:
            history = self._open(session)
        history.key = session.id  # an HTTP session is renamed once its id is known
        raw = history.raw
        if len(raw) >= self.per_session:
            history.truncated += 1
            return
        if history.pending_meta is not None or message.event_id is not None:
            self._read_meta(history, message, len(raw))
        wire = message._wire  # the bytes it was read as (the property only serialises built ones)
        kind = message.kind  # kind_code inlined: a call here is a tenth of the hook's cost
        code = 0 if kind is _REQUEST else 1 if kind is _NOTIFICATION else 2 if kind is _RESULT else 3
        raw.append(
            (
                now,
                0 if direction is _C2S else 1,
                code,
                message.id,
                message.method,
                wire or message.wire,
                ordinal,
            )
        )
        self._room -= 1
        if self._room < 0:
            self._evict(history)
        if self.listeners:
            self._tell(history)

    def written(
        self,
        session: Session,
        direction: Direction,
        message: Message,
        now: float,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """The proxy wrote ``message`` to the peer ``direction`` points at (``meta``: how,
        e.g. the HTTP status of an injected HTTP-level reply)."""
        history = self._sessions.get(session.ordinal)
        if history is None:
            history = self._open(session)
        raw = history.raw
        if len(raw) >= self.per_session:
            history.truncated += 1
            return
        if meta is not None:
            history.meta[len(raw)] = meta
        elif raw:
            last = raw[-1]
            # The message just read, written on unchanged (the common case): a float says so.
            if (
                type(last) is tuple
                and last[5] is message._wire
                and last[1] == (0 if direction is _C2S else 1)
            ):
                raw.append(now)
                self._room -= 1
                if self._room < 0:
                    self._evict(history)
                if self.listeners:
                    self._tell(history)
                return
        kind = message.kind
        code = 0 if kind is _REQUEST else 1 if kind is _NOTIFICATION else 2 if kind is _RESULT else 3
        raw.append((now, 2 if direction is _C2S else 3, code, message.id, message.method, message.wire, -1))
        self._room -= 1
        if self._room < 0:
            self._evict(history)
        if self.listeners:
            self._tell(history)

    def transport_meta(self, session: Session, meta: dict[str, Any] | None) -> None:
        """Transport metadata (HTTP status, MCP headers) for the next message read from
        ``session``; the transport calls it just before handing that message to the pump."""
        (self._sessions.get(session.ordinal) or self._open(session)).pending_meta = meta

    def answered_by_proxy(self, session: Session) -> Callable[[Message, int], None]:
        """A callback for the client reply's own error answers (upstream gone, timed out, session
        gone), which no pump writes: each becomes the client side's response to its request,
        with its HTTP status. Without it an outage's requests all read "unanswered"."""

        def record(error: Message, status: int) -> None:
            self.written(
                session,
                Direction.SERVER_TO_CLIENT,
                error,
                asyncio.get_running_loop().time(),
                {"status": status},
            )

        return record

    # ---- faults -------------------------------------------------------------------------

    def fault(self, record: FaultRecord) -> None:
        """Mark the entry a fault was injected on (an ``injector.on_fault`` listener)."""
        history = self._sessions.get(record.session_ordinal)
        direction = _DIRECTIONS.get(record.direction)
        if history is None or direction is None:
            return
        mode = record.params.get("mode") or record.params.get("type")
        label = f"{record.fault}:{mode}" if isinstance(mode, str) else record.fault
        raw = history.raw
        read_side = 0 if direction is _C2S else 1
        for seq in range(len(raw) - 1, max(len(raw) - 64, 0) - 1, -1):  # decided right after the read
            item = raw[seq]
            if type(item) is tuple and item[1] == read_side and item[6] == record.ordinal:
                history.faults.setdefault(seq, []).append(label)
                return

    # ---- reading ------------------------------------------------------------------------

    def histories(self) -> Iterator[SessionHistory]:
        """The sessions' histories, oldest session first."""
        return iter(list(self._sessions.values()))

    def stats(self) -> dict[str, Any]:
        return {
            "sessions": len(self._sessions),
            "entries": self.total,
            "limit": self.limit,
            "per_session": self.per_session,
            "truncated_sessions": sum(1 for h in self._sessions.values() if h.truncated),
            "truncated_entries": sum(h.truncated for h in self._sessions.values()),
            "evicted_sessions": self.evicted_sessions,
            "evicted_entries": self.evicted_entries,
        }

    def clear(self) -> None:
        """Forget every history (e.g. between two phases of a run)."""
        self._sessions.clear()
        self._room = self.limit

    # ---- inside -------------------------------------------------------------------------

    def _open(self, session: Session) -> SessionHistory:
        history = SessionHistory(session.id, session.ordinal, session.transport)
        self._sessions[session.ordinal] = history
        return history

    @staticmethod
    def _read_meta(history: SessionHistory, message: Message, seq: int) -> None:
        meta = history.pending_meta
        history.pending_meta = None
        if message.event_id is not None:  # read from an SSE stream: keep its event id
            meta = {**(meta or {}), "event_id": message.event_id}
        if meta is not None:
            history.meta[seq] = meta

    def _tell(self, history: SessionHistory) -> None:
        entry = history.entry(len(history.raw) - 1)  # built only when someone listens (a tape)
        for listener in self.listeners:
            listener(history, entry)

    def _evict(self, keep: SessionHistory) -> None:
        while self._room < 0 and len(self._sessions) > 1:
            ordinal, oldest = next(iter(self._sessions.items()))
            if oldest is keep:  # the session being recorded goes last: move it to the end
                self._sessions.move_to_end(ordinal)
                continue
            del self._sessions[ordinal]
            self._room += len(oldest.raw)
            self.evicted_sessions += 1
            self.evicted_entries += len(oldest.raw)
