"""One session table for every HTTP-facing shape (the HTTP proxy's sessions, the HTTP→stdio
bridge's server processes): LRU eviction, idle and max-age expiry, remembered gone ids.

Beyond ``max_sessions`` the least recently used entry is evicted (O(1)); one unused for
``idle_timeout`` seconds, or older than ``max_age``, expires. A session with a request or a
stream open is in use however long that takes: it is never idle. Either way its id is
remembered as gone, so the client's next request with it gets 404 and the client initializes
again, and the shape ends it behind the proxy (``on_gone``: a DELETE upstream, stopping a
process). A session its upstream lost (a 404 from it, a process that died) is forgotten at
once without that (:meth:`lost`).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from mcpchaos.events import notify
from mcpchaos.intercept.context import Session

log = logging.getLogger("mcpchaos.sessions")

SESSION_HEADER = "Mcp-Session-Id"
SESSION_KEY = b"mcp-session-id"
"""The header as the HTTP core indexes it (lower case)."""
IN_FLIGHT = "http.in_flight"
"""Session attribute: how many of its requests and streams are open now (not idle while > 0)."""
ENDED = "ended"
"""Session attribute: the session was reported ended (once)."""
END_UPSTREAM_AFTER = "http.end_upstream_after"
"""Session attribute: seconds to wait before ending it upstream (a call of its is still there)."""

Entry = TypeVar("Entry")


def busy(session: Session) -> bool:
    """A request or a stream of this session is open."""
    in_flight: int = session.attributes.get(IN_FLIGHT, 0)
    return in_flight > 0


def enter(session: Session) -> None:
    """A request or stream of ``session`` starts."""
    session.attributes[IN_FLIGHT] = session.attributes.get(IN_FLIGHT, 0) + 1


def leave(session: Session) -> None:
    session.attributes[IN_FLIGHT] -= 1


class SessionTable(Generic[Entry]):
    """Entries by session id, least recently used first."""

    def __init__(
        self,
        max_sessions: int,
        session_of: Callable[[Entry], Session],
        on_gone: Callable[[str, Entry, bool], None],
        observers: list[Any] | None = None,
        idle_timeout: float | None = None,
        max_age: float | None = None,
    ) -> None:
        self.max_sessions = max_sessions
        self._session_of = session_of
        self._on_gone = on_gone
        """(id, entry, end_upstream): the entry left the table for good."""
        self._observers = observers if observers is not None else []
        self.idle_timeout = idle_timeout
        self.max_age = max_age
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._last_used: dict[str, float] = {}
        self._born: dict[str, float] = {}
        """When each entry was added, oldest first (dicts keep insertion order)."""
        self._gone: OrderedDict[str, None] = OrderedDict()
        self.evicted = 0
        self.expired = 0
        self.lost_count = 0

    @property
    def expires(self) -> bool:
        """Whether entries expire at all (a sweep is needed)."""
        return bool(self.idle_timeout or self.max_age)

    def is_gone(self, session_id: str) -> bool:
        """This id was evicted, expired or lost here: its requests get 404."""
        return session_id in self._gone

    def get(self, session_id: str) -> Entry | None:
        """The live entry for ``session_id``, marked used; None if unknown, gone, or stale
        (checked here too, so expiry does not wait for the next sweep)."""
        entry = self._entries.get(session_id)
        if entry is None:
            return None
        now = time.monotonic()
        if self._is_stale(session_id, entry, now):
            self._expire(session_id)
            return None
        self._entries.move_to_end(session_id)
        self._last_used[session_id] = now
        return entry

    def add(self, session_id: str, entry: Entry) -> None:
        """Remember ``entry`` under ``session_id``; evicts the least recently used beyond the bound."""
        self._entries[session_id] = entry
        self._entries.move_to_end(session_id)
        self._last_used[session_id] = self._born[session_id] = time.monotonic()
        self._gone.pop(session_id, None)
        while len(self._entries) > self.max_sessions:
            forgotten_id, forgotten = self._entries.popitem(last=False)
            self.evicted += 1
            log.info("session %s evicted (more than %d sessions)", forgotten_id, self.max_sessions)
            notify(self._observers, "session_evicted", self._session_of(forgotten))
            self._bury(forgotten_id, forgotten, end_upstream=True)

    def touch(self, session_id: str) -> None:
        """A request of this session just ended: its idle time starts now."""
        if session_id in self._last_used:
            self._last_used[session_id] = time.monotonic()

    def expire(self, now: float) -> int:
        """End the entries unused for ``idle_timeout`` or older than ``max_age``; how many."""
        stale: list[str] = []
        if self.idle_timeout:
            stale = [
                sid
                for sid, used in self._last_used.items()
                if now - used > self.idle_timeout and not busy(self._session_of(self._entries[sid]))
            ]
        if self.max_age:
            for session_id, born in self._born.items():  # oldest first: stop at the first young one
                if now - born <= self.max_age:
                    break
                if session_id not in stale:
                    stale.append(session_id)
        for session_id in stale:
            self._expire(session_id)
        return len(stale)

    def _is_stale(self, session_id: str, entry: Entry, now: float) -> bool:
        if (
            self.idle_timeout
            and now - self._last_used.get(session_id, now) > self.idle_timeout
            and not busy(self._session_of(entry))
        ):
            return True
        return bool(self.max_age) and now - self._born.get(session_id, now) > (self.max_age or 0.0)

    def expire_now(self, session_id: str) -> None:
        """End ``session_id`` now as if it had expired (an injected session expiry)."""
        self._expire(session_id)

    def _expire(self, session_id: str) -> None:
        entry = self._entries.pop(session_id, None)
        if entry is not None:
            self.expired += 1
            log.info("session %s expired", session_id)
            notify(self._observers, "session_expired", self._session_of(entry))
            self._bury(session_id, entry, end_upstream=True)

    def lost(self, session_id: str) -> None:
        """The upstream no longer knows this session (it answered 404, its process died):
        forget it now, with nothing to end behind the proxy; counted as expired."""
        entry = self._entries.pop(session_id, None)
        if entry is None:
            return
        log.info("the upstream no longer knows session %s; forgetting it", session_id)
        self.lost_count += 1
        self.expired += 1
        notify(self._observers, "session_expired", self._session_of(entry))
        self._bury(session_id, entry, end_upstream=False)

    def remove(self, session_id: str) -> Entry | None:
        """The client ended the session (DELETE): forget it; it is not remembered as gone."""
        entry = self._entries.pop(session_id, None)
        self._last_used.pop(session_id, None)
        self._born.pop(session_id, None)
        if entry is not None:
            self.ended(self._session_of(entry))
        return entry

    def _bury(self, session_id: str, entry: Entry, end_upstream: bool) -> None:
        self._last_used.pop(session_id, None)
        self._born.pop(session_id, None)
        self._gone[session_id] = None
        while len(self._gone) > max(self.max_sessions * 10, 10_000):  # remembered, within bounds
            self._gone.popitem(last=False)
        self.ended(self._session_of(entry))
        self._on_gone(session_id, entry, end_upstream)

    def ended(self, session: Session) -> None:
        """Report ``session`` as ended, once (its last request and a DELETE may both say so)."""
        if not session.attributes.get(ENDED):
            session.attributes[ENDED] = True
            notify(self._observers, "session_ended", session)

    def ids(self) -> list[str]:
        return list(self._entries)

    def entries(self) -> list[Entry]:
        """The entries known now, least recently used first."""
        return list(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._entries


__all__ = [
    "ENDED",
    "END_UPSTREAM_AFTER",
    "IN_FLIGHT",
    "SESSION_HEADER",
    "SESSION_KEY",
    "SessionTable",
    "busy",
    "enter",
    "leave",
]
