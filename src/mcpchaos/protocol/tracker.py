"""A pure per-session tracker: the handshake phase and the requests still waiting for an answer.

The pump tells it what it received and what it wrote; it answers questions the proxy needs:
which method does this response answer (for interceptors and metrics), and which requests
would be left unanswered if the upstream died now (so each gets an error, not silence).
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

from mcpchaos.protocol.messages import Direction, Kind, Message, MessageId

DEFAULT_MAX_PENDING: Final = 65_536
"""Pending requests remembered per direction; beyond it the oldest is forgotten (a peer that
never answers cannot grow the proxy's memory without bound)."""


class Phase(enum.Enum):
    """Where a session stands in the MCP lifecycle."""

    NEW = "new"
    """Nothing seen yet."""
    INITIALIZING = "initializing"
    """``initialize`` sent, result not yet back (2025-era handshake)."""
    INITIALIZED = "initialized"
    """Handshake complete, or a sessionless (2026-07-28) exchange under way."""


@dataclass(slots=True)
class PendingRequest:
    """A request forwarded or received that has not been answered yet."""

    id: MessageId
    method: str
    received_at: float
    tool: str | None = None
    """For ``tools/call``: the tool's name (so its response can be targeted by tool)."""


class SessionTracker:
    """Pending requests per direction and the lifecycle phase of one session."""

    __slots__ = ("_forwarded", "_max", "_pending", "forgotten", "phase", "protocol_version")

    def __init__(self, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        self._max = max_pending
        self._pending: dict[Direction, OrderedDict[MessageId, PendingRequest]] = {
            Direction.CLIENT_TO_SERVER: OrderedDict(),
            Direction.SERVER_TO_CLIENT: OrderedDict(),
        }
        self._forwarded: dict[Direction, OrderedDict[MessageId, float]] = {
            Direction.CLIENT_TO_SERVER: OrderedDict(),
            Direction.SERVER_TO_CLIENT: OrderedDict(),
        }
        self.phase = Phase.NEW
        self.protocol_version: str | None = None
        self.forgotten = 0
        """Pending requests dropped from memory because the limit was reached."""

    def request_received(self, direction: Direction, message: Message, now: float) -> None:
        """A request arrived travelling in ``direction``; it now awaits an answer."""
        request_id = message.id
        method = message.method
        if request_id is None or method is None:
            return
        pending = self._pending[direction]
        pending[request_id] = PendingRequest(request_id, method, now, message.tool_name)
        pending.move_to_end(request_id)
        if len(pending) > self._max:
            pending.popitem(last=False)
            self.forgotten += 1
        if method == "initialize" and direction is Direction.CLIENT_TO_SERVER:
            self.phase = Phase.INITIALIZING

    def request_for(
        self, response_direction: Direction, request_id: MessageId | None
    ) -> PendingRequest | None:
        """The pending request a response travelling in ``response_direction`` answers."""
        if request_id is None:
            return None
        return self._pending[response_direction.reverse].get(request_id)

    def response_sent(self, response_direction: Direction, message: Message) -> PendingRequest | None:
        """A response was written travelling in ``response_direction``: its request is
        answered. Returns that request, or None if none was pending (e.g. a duplicate)."""
        if not message.kind.is_response:
            return None
        request_id = message.id
        if request_id is None:
            return None
        request = self._pending[response_direction.reverse].pop(request_id, None)
        if request is not None and request.method == "initialize" and message.kind is Kind.RESULT:
            result = message.payload.get("result")
            if isinstance(result, dict):
                version = result.get("protocolVersion")
                self.protocol_version = version if isinstance(version, str) else None
            self.phase = Phase.INITIALIZED
        return request

    def note_message(self, direction: Direction, message: Message) -> None:
        """Lifecycle hints from messages that are not requests or responses."""
        if message.kind is Kind.NOTIFICATION:
            if message.method == "notifications/initialized":
                self.phase = Phase.INITIALIZED
            elif message.method == "notifications/cancelled":
                # The receiver of a cancellation should not answer: the request no longer waits.
                params = message.params
                request_id = params.get("requestId") if isinstance(params, dict) else None
                if isinstance(request_id, int | str) and not isinstance(request_id, bool):
                    self._pending[direction].pop(request_id, None)
        elif (
            self.phase is Phase.NEW
            and message.kind is Kind.REQUEST
            and direction is Direction.CLIENT_TO_SERVER
            and message.method != "initialize"
        ):
            # A first request that is not initialize: a sessionless (2026-07-28) client.
            self.phase = Phase.INITIALIZED

    def request_forwarded(self, direction: Direction, request_id: MessageId, now: float) -> None:
        """A request was written to its receiver at ``now`` (for the upstream latency)."""
        forwarded = self._forwarded[direction]
        forwarded[request_id] = now
        if len(forwarded) > self._max:
            forwarded.popitem(last=False)

    def answer_latency(
        self, response_direction: Direction, request_id: MessageId | None, now: float
    ) -> float | None:
        """Seconds since the request this response answers was forwarded (once per request)."""
        if request_id is None:
            return None
        sent_at = self._forwarded[response_direction.reverse].pop(request_id, None)
        return None if sent_at is None else now - sent_at

    def forget(self, direction: Direction, request_id: MessageId) -> None:
        """Stop waiting for an answer to a request (its exchange ended without one)."""
        self._pending[direction].pop(request_id, None)

    def pending(self, direction: Direction) -> list[PendingRequest]:
        """Requests travelling in ``direction`` still waiting for an answer, oldest first."""
        return list(self._pending[direction].values())

    def take_pending(self, direction: Direction, keep: Collection[MessageId] = ()) -> list[PendingRequest]:
        """Remove and return the requests travelling in ``direction`` still waiting, except
        those whose ids are in ``keep``."""
        pending = self._pending[direction]
        if not keep:
            items = list(pending.values())
            pending.clear()
            return items
        items = [request for request_id, request in pending.items() if request_id not in keep]
        for request in items:
            del pending[request.id]
        return items

    def pending_count(self, direction: Direction) -> int:
        """How many requests travelling in ``direction`` still wait for an answer."""
        return len(self._pending[direction])
