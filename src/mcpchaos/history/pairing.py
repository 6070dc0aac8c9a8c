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

from collections import OrderedDict
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


class Pairer:
    """The pairing, one entry at a time (a tape writer pairs as it streams).

    ``remember``: how many requests to keep for late and duplicate responses (None: all, as
    :func:`pair` does; a streaming writer bounds it, forgetting the oldest first).
    """

    def __init__(self, remember: int | None = None, keep_calls: bool = True) -> None:
        self.result = Pairing()
        self._remember = remember
        self._keep_calls = keep_calls
        self._in_flight: dict[RequestKey, Call] = {}
        self._latest: OrderedDict[RequestKey, Call] = OrderedDict()
        """Newest last; an OrderedDict forgets its oldest in O(1) (a dict's first key is found
        by skipping every deleted slot before it)."""

    def add(self, entry: Entry) -> Call | None:
        """Pair ``entry``; the call it answers or cancels (None for a request or anything else)."""
        kind = entry.kind
        result = self.result
        in_flight, latest = self._in_flight, self._latest
        if kind is Kind.REQUEST:
            if entry.id is None:
                return None
            key = (entry.direction, entry.id)
            earlier = in_flight.get(key)
            if earlier is not None and self._keep_calls:
                result.reused.append((earlier, entry))
            call = Call(entry)
            if self._keep_calls:
                result.calls.append(call)
            latest.pop(key, None)  # re-inserted last: the order is the forgetting order
            in_flight[key] = latest[key] = call
            if self._remember is not None and len(latest) > self._remember:
                oldest, _ = latest.popitem(last=False)
                in_flight.pop(oldest, None)
            return None
        if kind is Kind.RESULT or kind is Kind.ERROR:
            if entry.id is None:
                return None
            key = (entry.direction.reverse, entry.id)
            found = latest.get(key)
            if found is None:
                if self._keep_calls:
                    result.unsolicited.append(entry)
                return None
            found.responses.append(entry)
            if in_flight.get(key) is found:
                del in_flight[key]
            return found
        if entry.method == "notifications/cancelled":
            request_id = cancelled_id(entry)
            if request_id is None:
                return None
            key = (entry.direction, request_id)
            found = latest.get(key)
            if found is not None and found.cancelled is None and not found.responses:
                found.cancelled = entry
                if in_flight.get(key) is found:
                    del in_flight[key]
                return found
        return None


def pair(entries: Sequence[Entry]) -> Pairing:
    """Pair the requests, responses and cancellations of one wire's entries (in order)."""
    pairer = Pairer()
    for entry in entries:
        pairer.add(entry)
    return pairer.result
