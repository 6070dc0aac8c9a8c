"""The invariants, one pure function each, over one wire of one session's history.

Each rule takes a :class:`WireView` and returns the :class:`Violation` s it found; each
violation names the session, the wire, the rule, the entries (``seq``) and ids involved, and a
*subject* — the request, progress token, subscription or list it is about — by which the
checker tells whether an injected fault explains it (:mod:`mcpchaos.history.check`).

Rules that compare two peers' timing (a response after a cancellation, a call after a
list-changed notification) allow ``grace_s``: a message already on its way when the other
side's message arrived is a race the protocol allows, not a violation.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from mcpchaos.history.pairing import Call, Pairing, pair
from mcpchaos.history.record import Entry, Wire
from mcpchaos.protocol.http_headers import NAME_PARAMS, PROTOCOL_VERSION_META_KEY, header_value
from mcpchaos.protocol.messages import Direction, Kind, MessageId

SUBSCRIPTION_ID_META_KEY: Final = "io.modelcontextprotocol/subscriptionId"
SESSIONLESS_ERA: Final = "2026-07-28"
"""The first protocol version whose requests carry their version in ``_meta`` and whose
results must carry ``resultType``."""
LIST_CHANGED: Final = {
    "notifications/tools/list_changed": ("tools/list", "tools/call"),
    "notifications/prompts/list_changed": ("prompts/list", "prompts/get"),
}
"""A list-changed notification → (the re-list it calls for, the call that must wait for it)."""

Subject = tuple[Hashable, ...]
_VERSION_BYTES: Final = PROTOCOL_VERSION_META_KEY.encode()
_RESULT_TYPE_BYTES: Final = b'"resultType"'


@dataclass(slots=True)
class Violation:
    """One broken invariant."""

    rule: str
    session: str
    wire: Wire
    seqs: tuple[int, ...]
    """The entries involved, by their place in the session's history."""
    ids: tuple[Any, ...]
    """The JSON-RPC ids (or progress token, subscription id) involved."""
    detail: str
    subject: Subject
    induced: bool = False
    """True when an injected fault on the same subject explains it (set by the checker)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "session": self.session,
            "wire": self.wire,
            "messages": list(self.seqs),
            "ids": list(self.ids),
            "detail": self.detail,
            "induced_by_fault": self.induced,
        }


@dataclass(slots=True)
class WireView:
    """One wire of one session: what a rule reads."""

    session: str
    wire: Wire
    entries: Sequence[Entry]
    grace_s: float = 0.0
    _pairing: Pairing | None = field(default=None, repr=False)

    @property
    def pairing(self) -> Pairing:
        """Computed once per wire, shared by every rule."""
        if self._pairing is None:
            self._pairing = pair(self.entries)
        return self._pairing

    def violation(
        self, rule: str, entries: Sequence[Entry], ids: Sequence[Any], detail: str, subject: Subject
    ) -> Violation:
        return Violation(
            rule, self.session, self.wire, tuple(e.seq for e in entries), tuple(ids), detail, subject
        )


def request_subject(direction: Direction, request_id: MessageId | None) -> Subject:
    return ("request", direction, request_id)


def progress_token(entry: Entry) -> Any:
    """The progress token a request asks progress for, or a progress notification names."""
    if b"progressToken" not in entry.raw:  # most requests: no need to parse them
        return None
    if entry.kind is Kind.REQUEST:
        token = entry.meta_field.get("progressToken")
    else:
        token = entry.params.get("progressToken")
    return token if isinstance(token, int | str) and not isinstance(token, bool) else None


def _who(view: WireView, direction: Direction) -> str:
    return "client" if direction is Direction.CLIENT_TO_SERVER else "server"


# -- the rules -----------------------------------------------------------------------------


def one_response(view: WireView) -> list[Violation]:
    """Every request ends in exactly one response or a cancellation: no second response, and
    no response to a request that was never made."""
    found: list[Violation] = []
    for call in view.pairing.calls:
        if len(call.responses) > 1:
            request = call.request
            found.append(
                view.violation(
                    "one_response",
                    [request, *call.responses],
                    [request.id],
                    f"{request.method} id {request.id!r} got {len(call.responses)} responses",
                    request_subject(request.direction, request.id),
                )
            )
    for response in view.pairing.unsolicited:
        found.append(
            view.violation(
                "one_response",
                [response],
                [response.id],
                f"a response with id {response.id!r} answers no request the "
                f"{_who(view, response.direction.reverse)} sent",
                request_subject(response.direction.reverse, response.id),
            )
        )
    return found


def nothing_after_cancel(view: WireView) -> list[Violation]:
    """Once a request is cancelled, nothing more is sent for it: no response and no progress
    (later than ``grace_s`` after the cancellation)."""
    found: list[Violation] = []
    cancelled: dict[Any, Call] = {}
    for call in view.pairing.calls:
        cancel = call.cancelled
        if cancel is None:
            continue
        request = call.request
        for response in call.responses:
            if response.time > cancel.time + view.grace_s:
                found.append(
                    view.violation(
                        "nothing_after_cancel",
                        [request, cancel, response],
                        [request.id],
                        f"{request.method} id {request.id!r} was answered "
                        f"{(response.time - cancel.time) * 1000:.0f} ms after its cancellation",
                        request_subject(request.direction, request.id),
                    )
                )
        token = progress_token(request)
        if token is not None:
            cancelled[(request.direction.reverse, token)] = call
    if not cancelled:
        return found
    for entry in view.entries:
        if entry.method != "notifications/progress":
            continue
        target = cancelled.get((entry.direction, progress_token(entry)))
        if target is None or target.cancelled is None or entry.seq < target.request.seq:
            continue
        if entry.time > target.cancelled.time + view.grace_s:
            request = target.request
            found.append(
                view.violation(
                    "nothing_after_cancel",
                    [request, target.cancelled, entry],
                    [request.id],
                    f"progress for cancelled {request.method} id {request.id!r}",
                    request_subject(request.direction, request.id),
                )
            )
    return found


def progress_monotonic(view: WireView) -> list[Violation]:
    """Progress for a token only increases, and stops once its request was answered."""
    found: list[Violation] = []
    by_token: dict[tuple[Direction, Any], Call] = {}
    last: dict[tuple[Direction, Any], tuple[float, Entry]] = {}
    answered_at: dict[int, Entry] = {}  # request seq → its first response
    for call in view.pairing.calls:
        token = progress_token(call.request)
        if token is not None:
            by_token[(call.request.direction.reverse, token)] = call
            if call.responses:
                answered_at[call.request.seq] = call.responses[0]
    for entry in view.entries:
        if entry.method != "notifications/progress":
            continue
        token = progress_token(entry)
        key = (entry.direction, token)
        found_call = by_token.get(key)
        if found_call is None or entry.seq < found_call.request.seq:
            continue
        call = found_call
        subject = ("progress", token)
        response = answered_at.get(call.request.seq)
        if response is not None and response.seq < entry.seq:
            found.append(
                view.violation(
                    "progress_monotonic",
                    [call.request, response, entry],
                    [token],
                    f"progress for token {token!r} after {call.request.method} "
                    f"id {call.request.id!r} was answered",
                    subject,
                )
            )
            continue
        value = entry.params.get("progress")
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        previous = last.get(key)
        if previous is not None and value <= previous[0]:
            found.append(
                view.violation(
                    "progress_monotonic",
                    [previous[1], entry],
                    [token],
                    f"progress for token {token!r} went {previous[0]} → {value}",
                    subject,
                )
            )
        last[key] = (value, entry)
    return found


def known_subscription(view: WireView) -> list[Violation]:
    """No notification names a subscription (``_meta`` subscriptionId) that no open
    ``subscriptions/listen`` request started on this wire."""
    found: list[Violation] = []
    listening: dict[tuple[Direction, Any], Entry] = {}
    closed: set[tuple[Direction, Any]] = set()
    for entry in view.entries:
        if entry.kind is Kind.REQUEST and entry.method == "subscriptions/listen":
            listening[(entry.direction.reverse, entry.id)] = entry
        elif entry.kind.is_response:
            key = (entry.direction, entry.id)
            if listening.pop(key, None) is not None:
                closed.add(key)
        elif entry.kind is Kind.NOTIFICATION and b"subscriptionId" in entry.raw:
            subscription = entry.meta_field.get(SUBSCRIPTION_ID_META_KEY)
            if subscription is None:
                continue
            key = (entry.direction, subscription)
            if key in listening:
                continue
            state = "already closed" if key in closed else "unknown"
            found.append(
                view.violation(
                    "known_subscription",
                    [entry],
                    [subscription],
                    f"{entry.method} names {state} subscription {subscription!r}",
                    ("subscription", subscription),
                )
            )
    return found


def mirrored_headers(view: WireView) -> list[Violation]:
    """A 2026-07-28 request's mirrored headers (``Mcp-Method``, ``Mcp-Name``,
    ``MCP-Protocol-Version``) say what its body says (checked where the transport recorded
    the headers: requests read from an HTTP client)."""
    found: list[Violation] = []
    for entry in view.entries:
        if entry.kind is not Kind.REQUEST or entry.meta is None:
            continue
        headers = entry.meta.get("headers")
        if not isinstance(headers, dict) or "mcp-method" not in headers:
            continue  # no mirrored headers recorded (credential headers alone)
        version = entry.meta_field.get(PROTOCOL_VERSION_META_KEY)
        if not isinstance(version, str):
            continue  # a 2025-era request: nothing mirrored
        expected: dict[str, str] = {"mcp-method": entry.method or "", "mcp-protocol-version": version}
        key = NAME_PARAMS.get(entry.method or "")
        target = entry.params.get(key) if key is not None else None
        if isinstance(target, str):
            expected["mcp-name"] = header_value(target)
        wrong = [
            f"{name} {headers.get(name)!r} (body: {value!r})"
            for name, value in expected.items()
            if headers.get(name) != value
        ]
        if wrong:
            found.append(
                view.violation(
                    "mirrored_headers",
                    [entry],
                    [entry.id],
                    f"{entry.method} id {entry.id!r}: " + "; ".join(wrong),
                    request_subject(entry.direction, entry.id),
                )
            )
    return found


def relist_after_list_changed(view: WireView) -> list[Violation]:
    """After ``notifications/tools/list_changed`` (or prompts), the client lists again
    before its next call (a call sent within ``grace_s`` of the notification is a race)."""
    found: list[Violation] = []
    stale: dict[str, Entry] = {}  # re-list method → the notification that calls for it
    calls = {call: relist for relist, call in LIST_CHANGED.values()}
    for entry in view.entries:
        if entry.kind is Kind.NOTIFICATION and entry.method in LIST_CHANGED:
            if entry.direction is Direction.SERVER_TO_CLIENT:
                stale.setdefault(LIST_CHANGED[entry.method][0], entry)
        elif entry.kind is Kind.REQUEST and entry.direction is Direction.CLIENT_TO_SERVER:
            method = entry.method or ""
            stale.pop(method, None)
            relist = calls.get(method)
            notice = stale.get(relist) if relist is not None else None
            if relist is not None and notice is not None and entry.time > notice.time + view.grace_s:
                del stale[relist]  # one violation per notification, not one per later call
                found.append(
                    view.violation(
                        "relist_after_list_changed",
                        [notice, entry],
                        [entry.id],
                        f"{method} id {entry.id!r} without {relist} after {notice.method}",
                        ("notification", notice.method),
                    )
                )
    return found


def result_type(view: WireView) -> list[Violation]:
    """Every result to a 2026-07-28 request carries ``resultType``.

    Cheap on clean traffic: a result whose bytes name ``"resultType"`` is taken as carrying
    it without parsing (a result that only mentions the word inside its content would pass);
    only a result without the word is parsed, with its request, to learn the era."""
    found: list[Violation] = []
    for call in view.pairing.calls:
        for response in call.responses:
            if response.kind is not Kind.RESULT or _RESULT_TYPE_BYTES in response.raw:
                continue
            request = call.request
            if _VERSION_BYTES not in request.raw:
                break  # a 2025-era request (its bytes do not even name a version in _meta)
            version = request.meta_field.get(PROTOCOL_VERSION_META_KEY)
            if not isinstance(version, str) or version < SESSIONLESS_ERA:
                break
            found.append(
                view.violation(
                    "result_type",
                    [request, response],
                    [request.id],
                    f"the result to {request.method} id {request.id!r} ({version}) has no resultType",
                    request_subject(request.direction, request.id),
                )
            )
    return found


def no_id_reuse(view: WireView) -> list[Violation]:
    """No request id is used again (the same way) while a request with it is in flight."""
    return [
        view.violation(
            "no_id_reuse",
            [earlier.request, request],
            [request.id],
            f"{request.method} reuses id {request.id!r} while {earlier.request.method} with it is in flight",
            request_subject(request.direction, request.id),
        )
        for earlier, request in view.pairing.reused
    ]


Rule = Callable[[WireView], list[Violation]]

RULES: Final[dict[str, Rule]] = {
    "one_response": one_response,
    "nothing_after_cancel": nothing_after_cancel,
    "progress_monotonic": progress_monotonic,
    "known_subscription": known_subscription,
    "mirrored_headers": mirrored_headers,
    "relist_after_list_changed": relist_after_list_changed,
    "result_type": result_type,
    "no_id_reuse": no_id_reuse,
}
"""Every rule, by the name its violations carry (docs/history.md has them in words)."""
