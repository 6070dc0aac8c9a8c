"""The client verdicts: one pure function each, over what the proxy saw of the client.

Each takes the :class:`~mcpchaos.harness.judge.observed.Observed` client and the
:class:`Bounds` the user set, and returns a journal :class:`~mcpchaos.harness.journal.Verdict`,
or :class:`NotExercised` with the reason when the run never exercised it (no hung call, no 404,
no Retry-After reached the client): a built-in scenario then reports it inconclusive with that
reason, a user's profile leaves it out. A verdict that was exercised but cannot be seen from the
proxy (a 2026-07-28 client cancels by closing a stream; a client that sends nothing after a 429
shows no wait) is an inconclusive ``Verdict`` with the reason, never a pass or a failure.
docs/judge.md has the table.

Over 400 lines: eleven verdicts, each a screen, kept in one module with their table
(``VERDICTS``) as ``history/rules.py`` keeps the history's invariants, so the rules of what a
client must do read in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from mcpchaos.harness.journal import Verdict
from mcpchaos.harness.judge.observed import Observed, Session
from mcpchaos.history.pairing import Call
from mcpchaos.history.record import Entry
from mcpchaos.protocol.messages import Direction, Kind


@dataclass(frozen=True, slots=True)
class Bounds:
    """What the user allows (``mcpchaos judge`` options)."""

    call_timeout_s: float = 10.0
    """A call with no answer must be given up (cancelled, retried, or the client ended)
    within this (``--call-timeout-bound``)."""
    max_request_rate: float = 10.0
    """Requests per second at most, in any one-second window, once errors began
    (``--max-request-rate``)."""
    retry_after_slack_s: float = 0.05
    """How much sooner than Retry-After a request may come (clocks and scheduling)."""


@dataclass(frozen=True, slots=True)
class NotExercised:
    """The run did not exercise the verdict, and why (what the client met instead)."""

    reason: str


VerdictFunction = Callable[[Observed, Bounds], Verdict | NotExercised]
_SHOWN: Final = 3
"""Examples quoted in a verdict's detail at most."""


def _verdict(name: str, passed: bool, rule: str, detail: str, **evidence: Any) -> Verdict:
    return Verdict(name=name, passed=passed, rule=rule, detail=detail, evidence=evidence)


def _inconclusive(name: str, rule: str, reason: str, **evidence: Any) -> Verdict:
    """Exercised, but what the rule asks cannot be seen on the client's wire."""
    return Verdict(name=name, passed=False, inconclusive=True, rule=rule, detail=reason, evidence=evidence)


def _when(obs: Observed, time: float) -> str:
    return f"{time - obs.exit.started:.2f}s"


def _call_text(call: Call) -> str:
    request = call.request
    params = request.params
    if request.method == "tools/call":
        return f"tools/call {params.get('name')!r} id {request.id!r}"
    return f"{request.method} id {request.id!r}"


# -- exits cleanly -------------------------------------------------------------------------


def exits_cleanly(obs: Observed, bounds: Bounds) -> Verdict:
    exit = obs.exit
    rule = "the client exits by itself (any status: a clean error report is fine), not killed at the bound"
    took = exit.ended - exit.started
    if exit.killed:
        detail = f"still running after {took:.1f}s: killed (it hung)"
        return _verdict("exits_cleanly", False, rule, detail, output=exit.output[-800:])
    if exit.returncode is not None and exit.returncode < 0:
        detail = f"died of signal {-exit.returncode} after {took:.1f}s"
        return _verdict("exits_cleanly", False, rule, detail, output=exit.output[-800:])
    detail = f"exited with status {exit.returncode} after {took:.1f}s"
    return _verdict("exits_cleanly", True, rule, detail, returncode=exit.returncode)


# -- hung calls: timed out, and cancelled ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Hung:
    session: Session
    call: Call
    gave_up: float | None
    how: str


def _hung_calls(obs: Observed, bounds: Bounds) -> list[_Hung]:
    """Calls with no answer within the bound, and when (and how) the client gave each up: a
    ``notifications/cancelled``, the same request sent again, or its own exit."""
    requests = obs.requests()
    found: list[_Hung] = []
    for session, call in obs.client_calls():
        request = call.request
        # A response broken on the way (not JSON) answers nothing.
        readable = [r for r in call.responses if r.payload or not r.raw.strip()]
        answered = readable[0].time if readable else None
        if answered is not None and answered - request.time <= bounds.call_timeout_s:
            continue
        if request.method in ("initialize",) and answered is not None:
            continue
        options: list[tuple[float, str]] = []
        if call.cancelled is not None:
            options.append((call.cancelled.time, "cancelled"))
        for _, later in requests:
            if (
                later.time > request.time
                and later.method == request.method
                and later.params == request.params
            ):
                options.append((later.time, "sent again"))
                break
        if not obs.exit.killed:
            options.append((obs.exit.ended, "the client exited"))
        if answered is not None:
            options.append((answered, "answered"))
        gave_up, how = min(options) if options else (None, "never")
        found.append(_Hung(session, call, gave_up, how))
    return found


def times_out_hung_calls(obs: Observed, bounds: Bounds) -> Verdict | NotExercised:
    hung = _hung_calls(obs, bounds)
    if not hung:
        return NotExercised(f"every call was answered within {bounds.call_timeout_s:g}s")
    bound = bounds.call_timeout_s
    rule = f"a call with no answer is given up (cancelled, sent again, or the client ends) within {bound:g}s"
    late = [h for h in hung if h.gave_up is None or h.gave_up - h.call.request.time > bound]
    texts = []
    for h in (late or hung)[:_SHOWN]:
        after = "never" if h.gave_up is None else f"after {h.gave_up - h.call.request.time:.2f}s"
        texts.append(f"{_call_text(h.call)} (sent at {_when(obs, h.call.request.time)}): {h.how} {after}")
    detail = f"{len(hung)} call(s) without an answer, {len(late)} held past the bound: " + "; ".join(texts)
    return _verdict("times_out_hung_calls", not late, rule, detail, hung=len(hung), late=len(late))


def cancels_abandoned(obs: Observed, bounds: Bounds) -> Verdict | NotExercised:
    hung = [h for h in _hung_calls(obs, bounds) if h.how != "answered"]
    if not hung:
        return NotExercised("the client gave up no call without an answer")
    judged = [h for h in hung if h.session.handshake]
    rule = "every call the client gives up gets notifications/cancelled naming its id"
    if not judged:
        return _inconclusive(
            "cancels_abandoned",
            rule,
            f"{len(hung)} abandoned call(s), all sessionless (2026-07-28): such a client cancels by "
            "closing the request's stream, which sends no message the proxy could record",
            abandoned=len(hung),
        )
    missing = [h for h in judged if h.call.cancelled is None]
    texts = [f"{_call_text(h.call)}: given up ({h.how}) without notifications/cancelled" for h in missing]
    detail = (
        f"{len(judged) - len(missing)} of {len(judged)} abandoned call(s) cancelled"
        + (": " + "; ".join(texts[:_SHOWN]) if texts else "")
        + (f" ({len(hung) - len(judged)} sessionless ones not judged)" if len(hung) > len(judged) else "")
    )
    return _verdict(
        "cancels_abandoned", not missing, rule, detail, abandoned=len(judged), uncancelled=len(missing)
    )


# -- retries: not blind, backed off, Retry-After honoured -------------------------------------


def idempotent(annotations: dict[str, Any] | None) -> bool:
    """What the spec's tool annotations say (their defaults when absent: not read-only, not
    idempotent): a read-only or idempotent tool may be called again safely."""
    annotations = annotations or {}
    return bool(annotations.get("readOnlyHint")) or bool(annotations.get("idempotentHint"))


def _failed(call: Call) -> bool:
    """No answer, a JSON-RPC error, or a tool error."""
    if not call.responses:
        return True
    response = call.responses[0]
    if response.kind is Kind.ERROR:
        return True
    result = response.payload.get("result")
    return isinstance(result, dict) and result.get("isError") is True


def no_blind_destructive_retry(obs: Observed, bounds: Bounds) -> Verdict | NotExercised:
    calls = [(s, c) for s, c in obs.client_calls() if c.request.method == "tools/call"]
    failures = [(s, c) for s, c in calls if _failed(c)]
    failed_unsafe = [
        (s, c) for s, c in failures if not idempotent(obs.tools.get(str(c.request.params.get("name"))))
    ]
    if not failed_unsafe:
        safe = sorted({str(c.request.params.get("name")) for _, c in failures})
        return NotExercised(
            "no call of a tool that is not idempotent failed"
            + (f" (the failed ones: {', '.join(safe)}, read-only or idempotent)" if safe else "")
        )
    rule = (
        "a failed call of a tool that is not idempotent (annotations: neither readOnlyHint nor "
        "idempotentHint) is not sent again with the same arguments"
    )
    retried: dict[str, int] = {}
    for session, failed in failed_unsafe:
        params = failed.request.params
        key = f"{params.get('name')} {params.get('arguments')}"
        if key in retried:
            continue
        # Later in the session's order (a retry sent on reading the error shares its millisecond).
        later = {id(e) for e in requests_after(obs, session, failed.request)}
        again = [
            c
            for _, c in calls
            if id(c.request) in later
            and c.request.params.get("name") == params.get("name")
            and c.request.params.get("arguments") == params.get("arguments")
        ]
        if again:
            retried[key] = len(again)
    if retried:
        texts = [f"{key}: sent again {count} time(s) after it failed" for key, count in retried.items()]
        return _verdict("no_blind_destructive_retry", False, rule, "; ".join(texts[:_SHOWN]), retried=retried)
    names = sorted({str(c.request.params.get("name")) for _, c in failed_unsafe})
    detail = f"{len(failed_unsafe)} failed call(s) of {', '.join(names)}: none sent again"
    return _verdict("no_blind_destructive_retry", True, rule, detail)


def _is_error_answer(entry: Entry) -> bool:
    status = (entry.meta or {}).get("status")
    return entry.kind is Kind.ERROR or (isinstance(status, int) and status >= 400)


def backs_off(obs: Observed, bounds: Bounds) -> Verdict | NotExercised:
    errors = [(s, e) for s, e in obs.given() if _is_error_answer(e)]
    if not errors:
        return NotExercised("no error answer reached the client")
    session, first_error = errors[0]
    first = first_error.time
    # After the error in its session's order: the request it answers may share its millisecond.
    times = [e.time for e in requests_after(obs, session, first_error)]
    peak, start = 0, 0
    for end, t in enumerate(sorted(times)):  # the most requests in any one-second window
        while t - times[start] > 1.0:
            start += 1
        peak = max(peak, end - start + 1)
    limit = bounds.max_request_rate
    rule = f"once errors come, at most {limit:g} requests in any one second (no retry storm)"
    detail = (
        f"{len(errors)} error answer(s), the first at {_when(obs, first)}; then {len(times)} "
        f"request(s), at most {peak} in one second"
    )
    return _verdict("backs_off", peak <= limit, rule, detail, peak_per_s=peak, errors=len(errors))


def retry_after_s(entry: Entry) -> float | None:
    """The Retry-After an answer carries: mcpchaos's injected rate limit names it in
    ``error.data.mcpchaos.retry_after_s`` (its HTTP form has the header too)."""
    if entry.kind is not Kind.ERROR:
        return None
    error = entry.payload.get("error")
    data = error.get("data") if isinstance(error, dict) else None
    if not isinstance(data, dict):
        return None
    ours = data.get("mcpchaos")
    value = ours.get("retry_after_s") if isinstance(ours, dict) else data.get("retryAfter")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def requests_after(obs: Observed, session: Session, entry: Entry) -> list[Entry]:
    """The client's requests after ``entry``: in its session by their order (the clock counts
    milliseconds, too coarse to order a request sent on reading an answer), elsewhere by time."""
    return [e for s, e in obs.requests() if (e.seq > entry.seq if s is session else e.time >= entry.time)]


def honours_retry_after(obs: Observed, bounds: Bounds) -> Verdict | NotExercised:
    limited = [(s, e, wait) for s, e in obs.given() if (wait := retry_after_s(e)) is not None]
    if not limited:
        return NotExercised("no answer with Retry-After reached the client")
    rule = "after an answer with Retry-After: N, the client's next request waits N seconds"
    early: list[str] = []
    waits: list[float] = []
    for session, answer, wait in limited:
        following = next(iter(requests_after(obs, session, answer)), None)
        if following is None:
            continue
        waited = following.time - answer.time
        waits.append(round(waited, 3))
        if waited < wait - bounds.retry_after_slack_s:
            early.append(f"{following.method} {waited:.2f}s after a Retry-After: {wait:g}")
    if not waits:
        exit = obs.exit
        ended = "it was killed" if exit.killed else f"it exited with status {exit.returncode}"
        return _inconclusive(
            "honours_retry_after",
            rule,
            f"{len(limited)} rate-limited answer(s), and no request after them ({ended} "
            f"{exit.ended - limited[-1][1].time:.2f}s later): whether it would have waited does not show",
        )
    detail = f"{len(limited)} rate-limited answer(s); the next request came after {waits} s"
    if early:
        detail += ": too soon: " + "; ".join(early[:_SHOWN])
    return _verdict("honours_retry_after", not early, rule, detail, waits_s=waits)


# -- sessions: re-initialize after 404; survive bad answers -----------------------------------


def reinitializes_after_404(obs: Observed, bounds: Bounds) -> Verdict | NotExercised:
    gone = [(s, e) for s, e in obs.given() if (e.meta or {}).get("status") == 404 and e.kind.is_response]
    if not gone:
        if obs.sessions and not any(s.handshake for s in obs.sessions):
            return NotExercised(
                "the client's requests were sessionless (2026-07-28): it had no session to lose, so no 404"
            )
        errors = sorted({_error_text(e) for _, e in obs.given() if _is_error_answer(e)})
        return NotExercised(
            "no HTTP 404 reached the client"
            + (f" (its error answers: {'; '.join(errors)})" if errors else "")
        )
    session, first = gone[0]
    rule = "after HTTP 404 on its session, the client opens a new one (initialize) before going on"
    # After the 404 in its session's order: the request it answers may share its millisecond.
    after = {id(e) for e in requests_after(obs, session, first)}
    later = [(s, e) for s, e in obs.requests() if id(e) in after]
    again = next((e for s, e in later if e.method == "initialize"), None)
    stale = sum(1 for s, _ in later if s.session_id == session.session_id and s.session_id)
    if again is not None:
        detail = f"404 at {_when(obs, first.time)}; initialize again {again.time - first.time:.2f}s later"
        return _verdict("reinitializes_after_404", True, rule, detail)
    detail = f"404 at {_when(obs, first.time)}; no initialize after it ({len(later)} later request(s)"
    detail += f", {stale} still on the expired session)" if stale else ")"
    if not later:  # docs/judge.md, Limits
        detail += "; requests on a session the proxy ended are answered 404 before it records them"
    return _verdict("reinitializes_after_404", False, rule, detail, stale_requests=stale)


def _error_text(entry: Entry) -> str:
    """An error answer in a few words: its HTTP status and JSON-RPC code."""
    status = (entry.meta or {}).get("status")
    error = entry.payload.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return " ".join(part for part in (f"HTTP {status}" if status else "", f"{code}" if code else "") if part)


def _bad_answers(obs: Observed) -> list[tuple[Session, Entry]]:
    """Malformed messages (not JSON) and responses to no request the client sent."""
    malformed = [(s, e) for s, e in obs.given() if e.raw.strip() and not e.payload]
    unknown = [
        (s, e) for s in obs.sessions for e in s.unsolicited if e.direction is Direction.SERVER_TO_CLIENT
    ]
    return sorted(malformed + unknown, key=lambda item: item[1].time)


def survives_bad_responses(obs: Observed, bounds: Bounds) -> Verdict | NotExercised:
    bad = _bad_answers(obs)
    if not bad:
        return NotExercised("no malformed or unknown-id message reached the client")
    session, first_bad = bad[0]
    first = first_bad.time
    rule = "after a malformed or unknown-id response the client goes on (a later request, or exit 0)"
    after = requests_after(obs, session, first_bad)
    exit = obs.exit
    survived = bool(after) or (not exit.killed and exit.returncode == 0)
    detail = (
        f"{len(bad)} bad message(s), the first at {_when(obs, first)}; {len(after)} request(s) after it; "
        + ("killed at the bound" if exit.killed else f"exit status {exit.returncode}")
    )
    return _verdict("survives_bad_responses", survived, rule, detail, bad=len(bad), requests_after=len(after))


def waits_for_slow_answers(obs: Observed, bounds: Bounds) -> Verdict | NotExercised:
    calls = [c for _, c in obs.client_calls() if c.request.method == "tools/call"]
    if not calls:
        return NotExercised("the client made no tool call")
    rule = "a slow but answered call (within the bound) is waited for, not cancelled or abandoned"
    given_up = [
        c
        for c in calls
        if not c.responses
        or (c.cancelled is not None and c.cancelled.time - c.request.time <= bounds.call_timeout_s)
    ]
    texts = [_call_text(c) for c in given_up[:_SHOWN]]
    detail = f"{len(calls) - len(given_up)} of {len(calls)} call(s) waited for" + (
        ": given up: " + "; ".join(texts) if texts else ""
    )
    return _verdict("waits_for_slow_answers", not given_up, rule, detail)


def falls_back_to_legacy(obs: Observed, bounds: Bounds) -> Verdict | NotExercised:
    refused = [
        (s, e) for s, e in obs.given() if e.kind is Kind.ERROR and _answers_method(s, e) == "server/discover"
    ]
    if not refused:
        if not any(e.method == "server/discover" for _, e in obs.requests()):
            return NotExercised(
                "the client never sent server/discover (it began with initialize): nothing to fall back from"
            )
        return NotExercised("server/discover was not refused")
    first = refused[0][1]
    rule = "when server/discover (2026-07-28) is refused, the client falls back to initialize"
    again = next((e for _, e in obs.requests() if e.time >= first.time and e.method == "initialize"), None)
    detail = f"server/discover refused at {_when(obs, first.time)}; " + (
        f"initialize {again.time - first.time:.2f}s later" if again else "no initialize after it"
    )
    return _verdict("falls_back_to_legacy", again is not None, rule, detail)


def _answers_method(session: Session, response: Entry) -> str | None:
    for call in session.calls:
        if response in call.responses:
            return call.request.method
    return None


def relists_after_list_changed(obs: Observed, bounds: Bounds) -> Verdict | NotExercised:
    changed = [(s, e) for s, e in obs.given() if e.method == "notifications/tools/list_changed"]
    if not changed:
        return NotExercised("no notifications/tools/list_changed reached the client")
    session, first = changed[0]
    rule = "after notifications/tools/list_changed the client lists the tools again before its next call"
    # In the session's own order (seq): the clock's millisecond cannot order a notification
    # and the request the client sent on reading it. Other sessions count too: a 2026-07-28
    # client's every request is a session of its own, a CLI's next invocation opens a new one.
    after = [e for e in requests_after(obs, session, first) if e.method in ("tools/list", "tools/call")]
    if not after:
        exit = obs.exit
        ended = "was killed" if exit.killed else f"exited with status {exit.returncode}"
        return _inconclusive(
            "relists_after_list_changed",
            rule,
            f"no tools/list or tools/call after the notification (the client {ended}): it never "
            "needed the list again",
        )
    passed = after[0].method == "tools/list"
    detail = f"the first request after the notification was {after[0].method}"
    return _verdict("relists_after_list_changed", passed, rule, detail)


VERDICTS: Final[dict[str, VerdictFunction]] = {
    "exits_cleanly": exits_cleanly,
    "times_out_hung_calls": times_out_hung_calls,
    "cancels_abandoned": cancels_abandoned,
    "no_blind_destructive_retry": no_blind_destructive_retry,
    "backs_off": backs_off,
    "honours_retry_after": honours_retry_after,
    "reinitializes_after_404": reinitializes_after_404,
    "relists_after_list_changed": relists_after_list_changed,
    "survives_bad_responses": survives_bad_responses,
    "waits_for_slow_answers": waits_for_slow_answers,
    "falls_back_to_legacy": falls_back_to_legacy,
}
"""Every client verdict by name, in the order reports list them."""

PROFILE_VERDICTS: Final = tuple(name for name in VERDICTS if name != "waits_for_slow_answers")
"""What a user's fault profile is judged by: every verdict its faults exercise (waiting for
slow answers is the slow_server scenario's own question)."""


def judge(obs: Observed, bounds: Bounds, names: tuple[str, ...], required: bool) -> list[Verdict]:
    """The named verdicts; one the run did not exercise is inconclusive, with the reason, when
    ``required`` (a built-in scenario's fault did not reach the client), else left out."""
    verdicts: list[Verdict] = []
    for name in names:
        verdict = VERDICTS[name](obs, bounds)
        if isinstance(verdict, Verdict):
            verdicts.append(verdict)
        elif required:
            verdicts.append(_inconclusive(name, "(not exercised)", f"not exercised: {verdict.reason}"))
    return verdicts
