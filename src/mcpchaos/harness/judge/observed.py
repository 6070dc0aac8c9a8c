"""What the proxy saw of a judged client (sans-IO): its side of every session it opened.

``mcpchaos judge`` reads the proxy's history as a tape (``GET /history?format=tape``) once the
client has exited, keeps the sessions the client opened (those after ``after_session``) and
their *client wire* (what the client sent, and what it was given after faults), and puts every
entry on the judge's own monotonic clock (the tape's ``t0`` plus the line's ``time``: the proxy
runs on the same machine, and both clocks are ``CLOCK_MONOTONIC``), so an entry can be compared
with when the client process started and ended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mcpchaos.history.pairing import Call, pair
from mcpchaos.history.record import CLIENT, SERVER, Entry
from mcpchaos.history.tape import Tape
from mcpchaos.protocol.messages import Direction, Kind


@dataclass(frozen=True, slots=True)
class ClientExit:
    """How the client process ended (times on the judge's monotonic clock)."""

    started: float
    ended: float
    returncode: int | None
    """None when it never ended by itself (``killed``); negative: it died of that signal."""
    killed: bool
    """The judge killed it: it was still running at ``--client-timeout``."""
    output: str = ""
    """The end of what it printed (stdout and stderr together)."""


@dataclass(slots=True)
class Session:
    """One session the client opened, its client wire paired."""

    ordinal: int
    session_id: str
    entries: list[Entry]
    calls: list[Call] = field(default_factory=list)
    unsolicited: list[Entry] = field(default_factory=list)

    @property
    def handshake(self) -> bool:
        """It began with ``initialize`` (a 2025-era session), not a sessionless request."""
        return any(e.method == "initialize" for e in self.entries if e.kind is Kind.REQUEST)


@dataclass(slots=True)
class Observed:
    """The client's side of its sessions, and how its process ended."""

    sessions: list[Session]
    exit: ClientExit
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Tool annotations by tool name, from any ``tools/list`` result in the history (either
    wire: the judge knows them even when the client never listed)."""

    def requests(self) -> list[tuple[Session, Entry]]:
        """Every request the client sent, in time order."""
        found = [
            (s, e)
            for s in self.sessions
            for e in s.entries
            if e.kind is Kind.REQUEST and e.direction is Direction.CLIENT_TO_SERVER and not e.written
        ]
        return sorted(found, key=lambda item: item[1].time)

    def client_calls(self) -> list[tuple[Session, Call]]:
        """Every request the client sent, with what became of it, in time order."""
        found = [
            (s, c)
            for s in self.sessions
            for c in s.calls
            if c.request.direction is Direction.CLIENT_TO_SERVER
        ]
        return sorted(found, key=lambda item: item[1].request.time)

    def given(self) -> list[tuple[Session, Entry]]:
        """Every message the client was given (written to it), in time order."""
        found = [(s, e) for s in self.sessions for e in s.entries if e.written]
        return sorted(found, key=lambda item: item[1].time)


def observe(tape: Tape, exit: ClientExit, after_session: int = 0) -> Observed:
    """The sessions after ``after_session`` (the ones this client opened), on the judge's clock."""
    t0 = float(tape.header.get("t0", 0.0))
    sessions: list[Session] = []
    tools: dict[str, dict[str, Any]] = {}
    ids = {int(line["session"]): str(line.get("session_id", "")) for line in tape.lines}
    for ordinal in tape.sessions():
        if ordinal <= after_session:
            continue
        entries = tape.entries(ordinal, CLIENT)
        server = tape.entries(ordinal, SERVER)
        _relayed_meta(entries, server)
        for entry in entries:
            entry.time += t0
        pairing = pair(entries)
        _answer_unreadable(pairing.calls, entries)
        sessions.append(Session(ordinal, ids.get(ordinal, ""), entries, pairing.calls, pairing.unsolicited))
        for wire_entries in (entries, server):
            tools.update(_annotations(wire_entries))
    return Observed(sessions, exit, tools)


def _relayed_meta(client: list[Entry], server: list[Entry]) -> None:
    """A server's answer relayed unchanged is recorded once with its transport metadata (the
    upstream's HTTP status, e.g. 404 for a session it no longer knows), on the server wire: the
    client was given it with that status too."""
    read = {e.seq: e for e in server if not e.written and e.meta}
    for entry in client:
        source = read.get(entry.seq - 1)
        if entry.written and entry.meta is None and source is not None and source.raw == entry.raw:
            entry.meta = source.meta


def _answer_unreadable(calls: list[Call], entries: list[Entry]) -> None:
    """An error with id null (the answer to a request the server could not read, e.g. "Missing
    session ID" for a sessionless probe) answers the session's first unanswered request before it."""
    for entry in entries:
        if entry.kind is Kind.ERROR and entry.id is None and entry.written:
            waiting = [c for c in calls if not c.finished and c.request.time <= entry.time]
            if waiting:
                waiting[0].responses.append(entry)


def _annotations(entries: list[Entry]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for call in pair(entries).calls:
        if call.request.method != "tools/list" or not call.responses:
            continue
        result = call.responses[0].payload.get("result")
        listed = result.get("tools") if isinstance(result, dict) else None
        for tool in listed if isinstance(listed, list) else []:
            if isinstance(tool, dict) and isinstance(tool.get("name"), str):
                annotations = tool.get("annotations")
                found[tool["name"]] = annotations if isinstance(annotations, dict) else {}
    return found


def last_session(tape: Tape) -> int:
    """The newest session's ordinal (0: none yet): the sessions after it are a new client's."""
    return max(tape.sessions(), default=0)
