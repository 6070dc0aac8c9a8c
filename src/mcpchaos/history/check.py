"""The checker: every rule over every wire of every session, with the faults taken into account.

:func:`check` runs each rule of :data:`~mcpchaos.history.rules.RULES` on both wires of each
session and returns a :class:`CheckResult`. It is pure: the harness runs it on a finished
run's history, the control API on a live proxy's (``mcpchaos ctl check``).

Violations an injected fault explains are marked ``induced_by_fault`` and counted apart, not
hidden: a fault was recorded on a message about the same subject (the same request, the
same progress token, subscription or list) in that session — a duplicated response is the
duplicate fault's doing, a late answer after a cancellation the delay's. A response whose id
a fault rewrote (``corruption``) matches nothing; in a session that had a corruption fault an
unsolicited response counts as induced too; likewise a notification whose ``subscriptionId`` a
fault replaced (``subscription:unknown_id``) names a subscription the read side never saw, so in
such a session a ``known_subscription`` violation counts as induced. :attr:`CheckResult.clean`
ignores induced ones.

Requests still waiting at the end of the history (no response, no cancellation) are not
violations: the run may have stopped with them in flight, the session may have been cut, or
its history truncated. They are listed apart as ``unanswered`` (the harness's ``no_hangs`` and
``nothing_lost`` verdicts judge lost requests with their deadlines).
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from mcpchaos.history.pairing import cancelled_id
from mcpchaos.history.record import CLIENT, SERVER, Entry, SessionHistory
from mcpchaos.history.rules import (
    LIST_CHANGED,
    RULES,
    SUBSCRIPTION_ID_META_KEY,
    Rule,
    Violation,
    WireView,
    progress_token,
    request_subject,
)
from mcpchaos.protocol.messages import Kind

DEFAULT_GRACE_S: Final = 0.1
"""How long a message may already have been on its way when the other side's message (a
cancellation, a list-changed notification) arrived: a race, not a violation."""
MAX_LISTED: Final = 200
"""Violations and unanswered requests listed at most (all are counted)."""
RETAGGED_SUBSCRIPTION: Final = "subscription:unknown_id"
"""The fault label (``observe/history.py``: fault, then mode) of a replaced ``subscriptionId``."""


@dataclass(slots=True)
class Unanswered:
    """A request in flight when the history ends."""

    session: str
    wire: str
    seq: int
    id: Any
    method: str | None
    truncated: bool
    """Its session's history stopped at the cap: its answer may simply not be recorded."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "session": self.session,
            "wire": self.wire,
            "message": self.seq,
            "id": self.id,
            "method": self.method,
            "truncated_history": self.truncated,
        }


@dataclass(slots=True)
class CheckResult:
    """What the checker found in a history."""

    violations: list[Violation] = field(default_factory=list)
    unanswered: list[Unanswered] = field(default_factory=list)
    sessions: int = 0
    messages: int = 0
    truncated_sessions: int = 0
    rules: tuple[str, ...] = ()

    @property
    def unexplained(self) -> list[Violation]:
        """The violations no injected fault explains."""
        return [v for v in self.violations if not v.induced]

    @property
    def clean(self) -> bool:
        return not self.unexplained

    def counts(self, induced: bool) -> dict[str, int]:
        counted: dict[str, int] = {}
        for violation in self.violations:
            if violation.induced is induced:
                counted[violation.rule] = counted.get(violation.rule, 0) + 1
        return counted

    def as_dict(self, limit: int = MAX_LISTED) -> dict[str, Any]:
        ordered = sorted(self.violations, key=lambda v: v.induced)  # unexplained first
        return {
            "clean": self.clean,
            "sessions": self.sessions,
            "messages": self.messages,
            "truncated_sessions": self.truncated_sessions,
            "rules": list(self.rules),
            "violations_total": len(self.violations),
            "unexplained_by_rule": self.counts(False),
            "induced_by_rule": self.counts(True),
            "violations": [v.as_dict() for v in ordered[:limit]],
            "unanswered_total": len(self.unanswered),
            # Apart: a client left without an answer is a loss; a request the server never
            # answered (it was killed or hung, and the proxy answered the client) is an outage.
            "unanswered_by_wire": dict(Counter(u.wire for u in self.unanswered)),
            "unanswered": [u.as_dict() for u in self.unanswered[:limit]],
        }


def check(
    histories: Iterable[SessionHistory],
    grace_s: float = DEFAULT_GRACE_S,
    rules: Mapping[str, Rule] = RULES,
) -> CheckResult:
    """Run ``rules`` on both wires of every session in ``histories``.

    The cyclic garbage collector is paused while it runs: the check builds an object per entry
    and frees them all by reference counting, and collections over a large live heap would
    double its cost for nothing."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return _check(histories, grace_s, rules)
    finally:
        if paused:
            gc.enable()


def _check(histories: Iterable[SessionHistory], grace_s: float, rules: Mapping[str, Rule]) -> CheckResult:
    result = CheckResult(rules=tuple(rules))
    for history in histories:
        result.sessions += 1
        entries = history.view()
        result.messages += len(entries)
        if history.truncated:
            result.truncated_sessions += 1
        faulted, corrupted, retagged = _faulted_subjects(entries)
        for wire in (CLIENT, SERVER):
            view = WireView(history.key, wire, [e for e in entries if e.wire == wire], grace_s)
            if not view.entries:
                continue
            for rule in rules.values():
                for violation in rule(view):
                    violation.induced = (
                        violation.subject in faulted
                        or (corrupted and violation.rule == "one_response" and len(violation.seqs) == 1)
                        or (retagged and violation.rule == "known_subscription")
                    )
                    result.violations.append(violation)
            for call in view.pairing.unanswered():
                request = call.request
                result.unanswered.append(
                    Unanswered(
                        history.key, wire, request.seq, request.id, request.method, history.truncated > 0
                    )
                )
    return result


def _faulted_subjects(entries: list[Entry]) -> tuple[set[tuple[Hashable, ...]], bool, bool]:
    """The subjects of every message a fault was injected on, whether any fault was a
    corruption (which may rewrite ids), and whether any retagged a subscription."""
    subjects: set[tuple[Hashable, ...]] = set()
    corrupted = retagged = False
    for entry in entries:
        if not entry.faults:
            continue
        corrupted = corrupted or any(name.startswith("corruption") for name in entry.faults)
        retagged = retagged or RETAGGED_SUBSCRIPTION in entry.faults
        subjects.update(subjects_of(entry))
    return subjects, corrupted, retagged


def subjects_of(entry: Entry) -> list[tuple[Hashable, ...]]:
    """What a message is about, in the terms violations name their subject."""
    kind = entry.kind
    if kind is Kind.REQUEST:
        found = [request_subject(entry.direction, entry.id)]
        token = progress_token(entry)
        if token is not None:
            found.append(("progress", token))
        return found
    if kind.is_response:
        return [request_subject(entry.direction.reverse, entry.id)]
    method = entry.method
    if method == "notifications/cancelled":
        return [request_subject(entry.direction, cancelled_id(entry))]
    if method == "notifications/progress":
        return [("progress", progress_token(entry))]
    if method in LIST_CHANGED:
        return [("notification", method)]
    subscription = entry.meta_field.get(SUBSCRIPTION_ID_META_KEY)
    return [("subscription", subscription)] if subscription is not None else []
