"""Outcomes, latency and Jepsen-style accounting of every request the load drivers make.

A client calls :meth:`Recorder.begin` when a request starts and gets a :class:`Ticket`; it
marks ``ticket.sent`` once the request itself is on the wire, then ends it with exactly one of
:meth:`~Recorder.response`, :meth:`~Recorder.transport` or :meth:`~Recorder.deadline`.
A ticket remembers the phase and time bucket it started in, so a slow answer counts where
its request began. :meth:`Recorder.finish` turns the tickets that never ended into ``hung``.
A client's handshake is not a request: it reports each one to :meth:`Recorder.handshake`.

The recorder decides the outcome from the answer: a ``tools/call`` result with ``isError: true``
is ``tool_error``, never ``ok``. Each phase keeps the first few distinct failure texts, so a
report can say *what* failed (a tool's own error message, a JSON-RPC error, a transport kind).

Just over 400 lines, one object's bookkeeping (tickets, phases, buckets, handshakes, failure
texts): split, the counters would be kept in two places. Everything runs on the event loop
thread: no locks. Two HDR histograms take a value per
request (phase and bucket, ~6 µs each), so the recorder stays cheap next to the I/O.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from hdrh.histogram import HdrHistogram

from mcpchaos.harness.journal import FIRST_ERRORS, Accounting, LatencySummary, OutcomeCounts, TimeBucket

_MAX_US = 60_000_000
"""The histograms span 1 µs .. 60 s; longer latencies are recorded as 60 s."""

DEFAULT_PHASE = "default"

_BUCKET_DIGITS = 2
"""Time buckets keep 2 significant digits (1% quantiles, ~20 KB each) instead of the phases'
3 (~140 KB each): a long run has thousands of buckets, a plot needs no more."""

_TEXT_CHARS = 200
"""A failure text is cut to this many characters."""


def _histogram(digits: int = 3) -> HdrHistogram:
    return HdrHistogram(1, _MAX_US, digits)


class _Stats:
    """Mutable counters of one phase or one time bucket (cheap to bump, converted on demand)."""

    __slots__ = (
        "answered",
        "deadline",
        "duplicated",
        "error",
        "error_codes",
        "first_errors",
        "handshakes",
        "handshakes_failed",
        "handshakes_injected",
        "histogram",
        "hung",
        "injected",
        "lost",
        "not_sent",
        "ok",
        "sent",
        "silent",
        "tool_error",
        "transport",
        "transport_kinds",
        "unexpected",
    )

    def __init__(self, digits: int = 3, keep_texts: bool = True) -> None:
        self.ok = self.tool_error = self.error = self.transport = self.deadline = self.injected = 0
        self.error_codes: dict[str, int] = {}
        self.transport_kinds: dict[str, int] = {}
        self.sent = self.answered = self.lost = self.silent = self.not_sent = 0
        self.duplicated = self.unexpected = self.hung = 0
        self.handshakes = self.handshakes_failed = self.handshakes_injected = 0
        self.first_errors: list[str] | None = [] if keep_texts else None
        self.histogram = _histogram(digits)

    def wants_text(self) -> bool:
        return self.first_errors is not None and len(self.first_errors) < FIRST_ERRORS

    def keep_text(self, text: str) -> None:
        errors = self.first_errors
        if errors is not None and len(errors) < FIRST_ERRORS and text not in errors:
            errors.append(text)

    def counts(self) -> OutcomeCounts:
        return OutcomeCounts(
            ok=self.ok,
            tool_error=self.tool_error,
            error=self.error,
            transport=self.transport,
            deadline=self.deadline,
            error_codes=dict(self.error_codes),
            transport_kinds=dict(self.transport_kinds),
            injected=self.injected,
            first_errors=list(self.first_errors or ()),
        )

    def accounting(self) -> Accounting:
        return Accounting(
            sent=self.sent,
            answered=self.answered,
            lost=self.lost,
            silent=self.silent,
            not_sent=self.not_sent,
            duplicated=self.duplicated,
            unexpected=self.unexpected,
            hung=self.hung,
            handshakes=self.handshakes,
            handshakes_failed=self.handshakes_failed,
            handshakes_injected=self.handshakes_injected,
        )

    def latency(self) -> LatencySummary:
        return _summary(self.histogram)


def _mean_us(histogram: HdrHistogram) -> float:
    """``histogram.get_mean_value()``, the same value, in one scan of the counts (hdrh's own
    walks a pure-Python iterator: ~50 ms for a phase histogram, read twice a second)."""
    total = 0
    for index, count in enumerate(list(histogram.counts)):
        if count:
            value = histogram.get_value_from_index(index)
            total += count * histogram._hdr_median_equiv_value(value)
    return float(total) / int(histogram.get_total_count())


def _summary(histogram: HdrHistogram) -> LatencySummary:
    count = int(histogram.get_total_count())
    if count == 0:
        return LatencySummary()
    # One pass for the three quantiles (the values of get_value_at_percentile).
    quantiles = histogram.get_percentile_to_value_dict([50, 90, 99])
    return LatencySummary(
        count=count,
        p50_ms=float(quantiles[50]) / 1000,
        p90_ms=float(quantiles[90]) / 1000,
        p99_ms=float(quantiles[99]) / 1000,
        max_ms=float(histogram.get_max_value()) / 1000,
        mean_ms=_mean_us(histogram) / 1000,
    )


class Ticket:
    """One request from its start to its single outcome."""

    __slots__ = ("answered", "bucket", "done", "outcome", "phase", "sent", "started")

    def __init__(self, started: float, phase: _Stats, bucket: _Stats) -> None:
        self.started = started
        self.phase = phase
        self.bucket = bucket
        self.sent = False
        """Set by the client once the request was written (a refused connection never was)."""
        self.done = False
        self.answered = False
        self.outcome = ""
        """``ok``, ``tool_error``, ``error``, ``transport`` or ``deadline`` once it ended."""


class Recorder:
    """Collects what happened to every request, by phase and by time bucket."""

    def __init__(self, bucket_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        if bucket_s <= 0:
            raise ValueError("bucket_s must be positive")
        self._clock = clock
        self._t0 = clock()
        self._bucket_s = bucket_s
        self._phase = DEFAULT_PHASE
        self._phases: dict[str, _Stats] = {DEFAULT_PHASE: _Stats()}
        self._phase_starts: list[tuple[float, str]] = [(0.0, DEFAULT_PHASE)]
        self._buckets: dict[int, _Stats] = {}
        self._open: set[Ticket] = set()

    # -- phases and time -------------------------------------------------------------

    def begin_phase(self, name: str) -> None:
        """Requests started from now on belong to phase ``name`` (a known name continues it)."""
        self._phase = name
        self._phases.setdefault(name, _Stats())
        self._phase_starts.append((self.now_s(), name))

    @property
    def phase(self) -> str:
        return self._phase

    def now_s(self) -> float:
        """Seconds since the recorder was made."""
        return self._clock() - self._t0

    def in_flight(self) -> int:
        """Requests started and not ended yet."""
        return len(self._open)

    def in_flight_from(self, phase: str) -> int:
        """Requests started in phase ``phase`` and not ended yet."""
        stats = self._phases.get(phase)
        return sum(ticket.phase is stats for ticket in self._open) if stats is not None else 0

    # -- what clients call -----------------------------------------------------------

    def begin(self) -> Ticket:
        """A request starts now."""
        now = self._clock()
        index = int((now - self._t0) / self._bucket_s)
        bucket = self._buckets.get(index)
        if bucket is None:
            bucket = self._buckets[index] = _Stats(_BUCKET_DIGITS, keep_texts=False)
        ticket = Ticket(now, self._phases[self._phase], bucket)
        self._open.add(ticket)
        return ticket

    def response(self, ticket: Ticket, payload: dict[str, Any]) -> None:
        """A JSON-RPC response (result or error) for ``ticket`` arrived."""
        if ticket.answered:
            self.duplicated(ticket)
            return
        if ticket.done:
            return  # a late answer to a request that already ended (deadline): already counted lost
        ticket.answered = True
        ticket.sent = True  # an answer proves the request reached the server
        error = payload.get("error")
        if error is None:
            result = payload.get("result")
            if isinstance(result, dict) and result.get("isError") is True:
                self._end(ticket, "tool_error")
                if ticket.phase.wants_text():
                    ticket.phase.keep_text(_tool_error_text(result))
                return
            self._end(ticket, "ok")
            return
        code = error.get("code") if isinstance(error, dict) else None
        self._end(ticket, "error", str(code))
        if is_injected(error):
            ticket.phase.injected += 1
            ticket.bucket.injected += 1
        if ticket.phase.wants_text():
            message = error.get("message") if isinstance(error, dict) else None
            ticket.phase.keep_text(_cut(f"error {code}: {message}" if message else f"error {code}"))

    def transport(self, ticket: Ticket, kind: str, text: str | None = None) -> None:
        """The request ended without a JSON-RPC answer (``reset``, ``http_503``, …); ``text``
        says more for the report (e.g. the error a handshake got)."""
        if not ticket.done:
            self._end(ticket, "transport", kind)
            if ticket.phase.wants_text():
                ticket.phase.keep_text(_cut(f"transport {kind}" + (f": {text}" if text else "")))

    def deadline(self, ticket: Ticket) -> None:
        """The client's per-request deadline passed first."""
        if not ticket.done:
            self._end(ticket, "deadline")
            if ticket.phase.wants_text():
                ticket.phase.keep_text("deadline" if ticket.sent else "deadline (before it was sent)")

    def handshake(self, *, sent: bool, opened: bool, answer: dict[str, Any] | None = None) -> None:
        """A client's handshake ended: ``sent`` when its ``initialize`` was written, ``opened``
        when it opened a session, ``answer`` the JSON-RPC error it got, if any. Counted in the
        current phase, apart from the requests."""
        if sent:
            stats = self._phases[self._phase]
            stats.handshakes += 1
            if not opened:
                stats.handshakes_failed += 1
                if answer is not None and is_injected(answer.get("error")):
                    stats.handshakes_injected += 1

    def duplicated(self, ticket: Ticket) -> None:
        """Another response for a request that was already answered."""
        ticket.phase.duplicated += 1
        ticket.bucket.duplicated += 1

    def unexpected(self) -> None:
        """A response carrying an id the client never sent (or none): counted in the current phase."""
        self._phases[self._phase].unexpected += 1
        index = int(self.now_s() / self._bucket_s)
        bucket = self._buckets.get(index)
        if bucket is None:
            bucket = self._buckets[index] = _Stats(_BUCKET_DIGITS, keep_texts=False)
        bucket.unexpected += 1

    def _end(self, ticket: Ticket, outcome: str, detail: str | None = None) -> None:
        ticket.done = True
        ticket.outcome = outcome
        self._open.discard(ticket)
        micros = min(max(int((self._clock() - ticket.started) * 1_000_000), 1), _MAX_US)
        for stats in (ticket.phase, ticket.bucket):
            stats.histogram.record_value(micros)
            if ticket.sent:
                stats.sent += 1
                if ticket.answered:
                    stats.answered += 1
                else:
                    stats.lost += 1
                    if outcome == "deadline":
                        stats.silent += 1
            else:
                stats.not_sent += 1
            if outcome == "ok":
                stats.ok += 1
            elif outcome == "tool_error":
                stats.tool_error += 1
            elif outcome == "error":
                stats.error += 1
                stats.error_codes[detail or ""] = stats.error_codes.get(detail or "", 0) + 1
            elif outcome == "transport":
                stats.transport += 1
                stats.transport_kinds[detail or ""] = stats.transport_kinds.get(detail or "", 0) + 1
            else:
                stats.deadline += 1

    def finish(self) -> None:
        """The requests still without an outcome become ``hung`` (call after the driver stopped)."""
        for ticket in self._open:
            ticket.done = True
            for stats in (ticket.phase, ticket.bucket):
                stats.hung += 1
                if ticket.sent:
                    stats.sent += 1
                else:
                    stats.not_sent += 1
        self._open.clear()

    # -- what the harness reads ------------------------------------------------------

    def phase_names(self) -> list[str]:
        """Every phase that saw a request or a handshake, in the order they began."""
        return [name for name, stats in self._phases.items() if _used(stats)]

    def phase_start(self, name: str) -> float:
        """When phase ``name`` first began (seconds since the recorder was made)."""
        return next((t for t, phase in self._phase_starts if phase == name), 0.0)

    def phase_summary(self, name: str) -> tuple[OutcomeCounts, LatencySummary, Accounting]:
        stats = self._phases.get(name) or _Stats()
        return stats.counts(), stats.latency(), stats.accounting()

    def totals(self) -> tuple[OutcomeCounts, LatencySummary, Accounting]:
        """The sum over every phase."""
        counts = OutcomeCounts()
        merged = _histogram()
        accounting = Accounting()
        for stats in self._phases.values():
            counts = counts.add(stats.counts())
            merged.add(stats.histogram)
            accounting = accounting.add(stats.accounting())
        return counts, _summary(merged), accounting

    def window(self, start_s: float, end_s: float) -> OutcomeCounts:
        """Outcomes of the requests that started in [start_s, end_s), at bucket resolution
        (a bucket counts when its start lies in the window)."""
        total = OutcomeCounts()
        first = math.ceil(start_s / self._bucket_s - 1e-9)
        for index in sorted(self._buckets):
            if index >= first and index * self._bucket_s < end_s:
                total = total.add(self._buckets[index].counts())
        return total

    def timeline(self) -> list[TimeBucket]:
        """One bucket per ``bucket_s`` from the start up to the last request, by start time."""
        if not self._buckets:
            return []
        empty = _Stats()
        out: list[TimeBucket] = []
        for index in range(max(self._buckets) + 1):
            stats = self._buckets.get(index, empty)
            t_s = index * self._bucket_s
            summary = stats.latency()
            out.append(
                TimeBucket(
                    t_s=t_s,
                    width_s=self._bucket_s,
                    phase=self._phase_at(t_s),
                    outcomes=stats.counts(),
                    p50_ms=summary.p50_ms,
                    p99_ms=summary.p99_ms,
                )
            )
        return out

    def _phase_at(self, t_s: float) -> str:
        name = DEFAULT_PHASE
        for started, phase in self._phase_starts:
            if started <= t_s + 1e-9:
                name = phase
        return name


def is_injected(error: Any) -> bool:
    """Whether a JSON-RPC error object carries mcpchaos's ``data.mcpchaos.injected`` mark."""
    data = error.get("data") if isinstance(error, dict) else None
    marker = data.get("mcpchaos") if isinstance(data, dict) else None
    return isinstance(marker, dict) and marker.get("injected") is True


def _used(stats: _Stats) -> bool:
    ended = stats.histogram.get_total_count()
    return bool(ended or stats.hung or stats.handshakes or stats.duplicated or stats.unexpected)


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _TEXT_CHARS else text[: _TEXT_CHARS - 1] + "…"


def _tool_error_text(result: dict[str, Any]) -> str:
    """``tool error: <the first text content>`` of an ``isError`` result."""
    content = result.get("content")
    texts = [
        str(item.get("text"))
        for item in (content if isinstance(content, list) else [])
        if isinstance(item, dict) and item.get("type") == "text" and item.get("text")
    ]
    return _cut("tool error: " + (texts[0] if texts else "(no text)"))
