"""The history checker (sans-IO): the record of what each peer of a session saw
(:mod:`~mcpchaos.history.record`), request/response pairing (:mod:`~mcpchaos.history.pairing`),
the invariants, one function each (:mod:`~mcpchaos.history.rules`), and the checker that runs
them and tells which violations the injected faults explain (:mod:`~mcpchaos.history.check`).
The recording itself (the pump's hook, the caps) is :mod:`mcpchaos.observe.history`."""

from mcpchaos.history.check import DEFAULT_GRACE_S, CheckResult, Unanswered, check
from mcpchaos.history.record import Entry, SessionHistory
from mcpchaos.history.rules import RULES, Violation

__all__ = [
    "DEFAULT_GRACE_S",
    "RULES",
    "CheckResult",
    "Entry",
    "SessionHistory",
    "Unanswered",
    "Violation",
    "check",
]
