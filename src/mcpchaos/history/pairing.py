"""Request/response pairing over one wire of a session's history (sans-IO).

Every rule that reasons about a request's fate starts from here, and so will a tape's
request/response pairing (issue 19): one pass, in order, over the wire's entries.

A request is keyed by (direction, id). It is *in flight* from the request until its first
response or its cancellation (``notifications/cancelled`` naming its id, sent the same way).
Responses are matched to the latest request with their id sent the other way, even after it
finished, so a second (duplicate or late) response lands on the request it repeats; a response
no request explains is *unsolicited*. A response with id null (an error for a message whose id
could not be read) names no request and is ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from mcpchaos.history.record import Entry
from mcpchaos.protocol.messages import Direction, Kind, MessageId

RequestKey = tuple[Direction, MessageId]


@dataclass(slots=True, eq=False)
class Call:
    """One request and what became of it."""

    request: Entry
    responses: list[Entry] = field(default_factory=list)
    cancelled: Entry | None = None

    @property
    def key(self) -> RequestKey:
        assert self.request.id is not None
        return (self.request.direction, self.request.id)

    @property
    def finished(self) -> bool:
        return bool(self.responses) or self.cancelled is not None


@dataclass(slots=True)
class Pairing:
    """The calls of one wire, with what did not pair."""

    calls: list[Call] = field(default_factory=list)
    unsolicited: list[Entry] = field(default_factory=list)
    """Responses whose id matches no request sent the other way."""
    reused: list[tuple[Call, Entry]] = field(default_factory=list)
    """(the call still in flight, the new request that reused its id)."""

    def unanswered(self) -> list[Call]:
        """Requests with neither a response nor a cancellation by the end of the history."""
        return [call for call in self.calls if not call.finished]


def cancelled_id(entry: Entry) -> MessageId | None:
    """The request id a ``notifications/cancelled`` names, if it names one."""
    value = entry.params.get("requestId")
    return value if isinstance(value, int | str) and not isinstance(value, bool) else None


def pair(entries: Sequence[Entry]) -> Pairing:
    """Pair the requests, responses and cancellations of one wire's entries (in order)."""
    result = Pairing()
    in_flight: dict[RequestKey, Call] = {}
    latest: dict[RequestKey, Call] = {}
    for entry in entries:
        kind = entry.kind
        if kind is Kind.REQUEST:
            if entry.id is None:
                continue
            key = (entry.direction, entry.id)
            earlier = in_flight.get(key)
            if earlier is not None:
                result.reused.append((earlier, entry))
            call = Call(entry)
            result.calls.append(call)
            in_flight[key] = latest[key] = call
        elif kind is Kind.RESULT or kind is Kind.ERROR:
            if entry.id is None:
                continue
            key = (entry.direction.reverse, entry.id)
            found = latest.get(key)
            if found is None:
                result.unsolicited.append(entry)
                continue
            found.responses.append(entry)
            if in_flight.get(key) is found:
                del in_flight[key]
        elif entry.method == "notifications/cancelled":
            request_id = cancelled_id(entry)
            if request_id is None:
                continue
            key = (entry.direction, request_id)
            found = latest.get(key)
            if found is not None and found.cancelled is None and not found.responses:
                found.cancelled = entry
                if in_flight.get(key) is found:
                    del in_flight[key]
    return result
