"""Numbers in words and derived tables, shared by the HTML and the Markdown reports.

Both reports (and the terminal) must say the same thing, so formatting, the result words and
every figure derived from the journal (resource rows, the counts table) live here once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from mcpchaos.harness.journal import Counts, Event, PhaseRecord, ResourceSample, ScenarioResult, Status
from mcpchaos.harness.verdicts import COMMON

RESOURCE_NAMES = {
    "rss_bytes": "RSS",
    "fds": "open fds",
    "children": "child processes",
    "threads": "threads",
    "tasks": "asyncio tasks",
    "connections": "open connections",
    "sessions": "sessions",
}
"""The measured resources of a :class:`ResourceSample`, in table order, as the reports name them."""

LIMITS = {
    "connections": (
        "max_connections",
        "the solid line must stay at or under it; a connection past the limit gets a 503 and is closed",
    ),
    "sessions": (
        "max_sessions",
        "past it the least recently used session is evicted (404, its client re-initializes). The "
        "count includes handshakes still in flight, so it may rise above the line by up to the "
        "number of clients opening sessions at once; it must fall back to the line, not keep growing",
    ),
}
"""A proxy gauge, the scenario parameter that limits it, and how to read the gauge against it."""

MIN_PERIODIC = 3
"""Periodic samples a resource needs before it is drawn over time (labelled ones alone are not a curve)."""

COUNT_UNITS = (
    ("session", "sessions"),
    ("connection", "connections"),
    ("storm", "connections"),
    ("probe", "probes"),
    ("deadline", "calls"),
    ("answered", "calls"),
)
"""The unit of a count-valued measurement, by a word in its name (first match)."""


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} ms"


def size(value: int | None) -> str:
    if value is None:
        return "–"
    amount = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def measurement(name: str, value: float | None) -> str:
    """A named figure, rounded, with the unit its name implies (``_s``, ``_ms``, ``_bytes``,
    ``_mb``, a share for ``rate``/``success``/``probability``, else a count of what it names)."""
    if value is None:
        return "not reached"
    if name.endswith("_s"):
        return f"{value:.2f} s"
    if name.endswith("_ms"):
        return ms(value)
    if name.endswith("_bytes"):
        return size(int(value))
    if name.endswith("_mb"):
        return f"{value:.1f} MiB"
    if any(word in name for word in ("rate", "probability", "success", "share")):
        return percent(value) if 0 <= value <= 1 else f"{value:g}"
    if name == "collapse_point":
        return f"p = {value:g}"
    unit = next((unit for word, unit in COUNT_UNITS if word in name), "")
    number = f"{value:.0f}" if value == int(value) else f"{value:.3g}"
    return f"{number} {unit}".strip()


def label(name: str) -> str:
    """``time_to_recover_s`` → ``time to recover``: names as the user reads them."""
    for suffix in ("_s", "_ms", "_bytes", "_mb"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name.replace("_", " ")


MARKS: dict[Status, str] = {"passed": "✅", "failed": "❌", "inconclusive": "⚠️", "skipped": "⏭️"}
"""A sign beside each result word (the word is always written out too)."""


def tally(statuses: list[Status], verdicts: bool = False) -> str:
    """``3 passed, 1 failed, 0 inconclusive, 2 skipped``: every word, in this order (a verdict
    is never skipped, so ``verdicts`` leaves that one out)."""
    words = [w for w in MARKS if not (verdicts and w == "skipped")]
    return ", ".join(f"{statuses.count(word)} {word}" for word in words)


def short(text: str, limit: int = 160) -> str:
    """``text`` cut to ``limit`` characters (a table cell; the whole text is said elsewhere)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


COUNT_HEADERS = (
    "sent",
    "answered",
    "tool errors",
    "lost",
    "silent",
    "not sent",
    "duplicated",
    "unexpected",
    "hung",
    "handshakes",
    "handshakes failed",
)
"""The counts of a load, in the order every output shows them (see ``Accounting``)."""


def count_values(counts: Counts | PhaseRecord) -> list[int]:
    """The values under :data:`COUNT_HEADERS`."""
    a, o = counts.accounting, counts.outcomes
    return [
        a.sent,
        a.answered,
        o.tool_error,
        a.lost,
        a.silent,
        a.not_sent,
        a.duplicated,
        a.unexpected,
        a.hung,
        a.handshakes,
        a.handshakes_failed,
    ]


def counts_line(counts: Counts) -> str:
    """``sent 120, answered 118, tool errors 0, …`` (the terminal's and the text's form)."""
    return ", ".join(f"{h} {v}" for h, v in zip(COUNT_HEADERS, count_values(counts), strict=True))


def count_rows(result: ScenarioResult) -> list[tuple[str, list[int]]]:
    """One row per phase, the total, then each other load's total: the counts table."""
    rows = [(p.name, count_values(p)) for p in result.phases]
    rows.append(("total", count_values(result.totals)))
    rows += [(f"{name} load (total)", count_values(c)) for name, c in result.other_loads.items()]
    return rows


def why(result: ScenarioResult) -> str | None:
    """The reason beside the result word: skipped because, failed because it did not run to
    the end, inconclusive because the baseline was too weak (``also inconclusive: …`` when a
    verdict failed as well)."""
    if result.skipped or result.error:
        return result.skipped or result.error
    if result.inconclusive and result.status == "failed":
        return f"also inconclusive: {result.inconclusive}"
    return result.inconclusive


def ready_line(result: ScenarioResult) -> str | None:
    """``target ready after 1.40 s``: the measured start-up, said the same in every output."""
    return None if result.ready_after_s is None else f"target ready after {result.ready_after_s:.2f} s"


def degradation_phases(result: ScenarioResult) -> list[PhaseRecord]:
    """Phases with a fault probability and any outcome: the points of the degradation plot;
    none when they hold fewer than two levels (one level is a point, not a curve)."""
    phases = [p for p in result.phases if p.fault_probability is not None and p.outcomes.total > 0]
    return phases if len({p.fault_probability for p in phases}) >= 2 else []


def shown_events(result: ScenarioResult) -> list[tuple[Event, str]]:
    """The events the time plots mark, with their labels: a fault change only when the
    scenario injected any fault (else "faults cleared" at the baseline marks nothing)."""
    injected = sum(result.fault_counts.values()) > 0
    return [
        (e, f"faults {e.detail}".strip() if e.kind == "faults" else e.kind)
        for e in result.events
        if e.kind != "faults" or injected
    ]


def processes(samples: list[ResourceSample]) -> list[str]:
    return list(dict.fromkeys(s.process for s in samples))


def over_time(samples: list[ResourceSample], process: str, resource: str) -> list[tuple[float, int]]:
    """``(t_s, value)`` of one resource of one process, in time order, when the scenario sampled
    it periodically (at least :data:`MIN_PERIODIC` unlabelled samples); else nothing."""
    mine = [(s.t_s, getattr(s, resource), s.label) for s in samples if s.process == process]
    points = sorted((t, v, label) for t, v, label in mine if v is not None)
    if sum(1 for _, _, label in points if not label) < MIN_PERIODIC:
        return []
    return [(t, v) for t, v, _ in points]


def finding(result: ScenarioResult) -> str:
    """The scenario's finding in one sentence: what the run says, first."""

    def said(text: str) -> str:
        return short(text, 240).rstrip(". ")

    if result.skipped is not None:
        return f"Not run against this target: {said(result.skipped)}."
    if result.error is not None:
        return f"The scenario did not run to the end: {said(result.error)}."
    failed = [v for v in result.verdicts if v.status == "failed"]
    if failed:
        others = f" (and {', '.join(v.name for v in failed[1:])})" if failed[1:] else ""
        return f"{failed[0].name} failed{others}: {said(failed[0].detail)}."
    if result.status == "inconclusive":
        return f"The run could not tell: {said(why(result) or 'no verdict could judge it')}."
    key = [
        f"{label(k)} {measurement(k, result.measurements[k])}"
        for k in ("collapse_point", "time_to_recover_s")
        if result.measurements.get(k) is not None
    ]
    warned = [f.title for f in result.findings if f.severity != "info"]
    # The scenario's own verdict (the last one beyond those every scenario has) answers its question.
    own = [v for v in result.verdicts if v.name not in COMMON]
    sentence = f"All {len(result.verdicts)} verdicts passed"
    sentence += f" ({', '.join(key)})" if key else ""
    sentence += f"; {own[-1].name}: {said(own[-1].detail)}" if own else ""
    sentence += f"; but note: {warned[0]}" if warned else ""
    return sentence + "."


@dataclass(frozen=True)
class ResourceRow:
    process: str
    resource: str
    baseline: int | None
    peak: int | None
    final: int | None


def resource_rows(samples: list[ResourceSample]) -> list[ResourceRow]:
    """Baseline, peak and final of each resource per process.

    Labelled samples win (the harness takes them on purpose); without them the first sample
    is the baseline, the largest the peak and the last the final value.
    """
    rows: list[ResourceRow] = []
    for process in processes(samples):
        mine = sorted((s for s in samples if s.process == process), key=lambda s: s.t_s)
        for resource in RESOURCE_NAMES:
            points = [(s, getattr(s, resource)) for s in mine if getattr(s, resource) is not None]
            if not points:
                continue

            def pick(wanted: str, fallback: int, points: list[tuple[ResourceSample, int]] = points) -> int:
                labelled = [value for s, value in points if s.label == wanted]
                return labelled[-1] if labelled else fallback

            values = [value for _, value in points]
            rows.append(
                ResourceRow(
                    process=process,
                    resource=resource,
                    baseline=pick("baseline", values[0]),
                    peak=max(values),
                    final=pick("final", values[-1]),
                )
            )
    return rows


def resource_value(resource: str, value: int | None) -> str:
    return size(value) if resource == "rss_bytes" else ("–" if value is None else str(value))


def params_yaml(params: dict[str, Any]) -> str:
    """A scenario's parameters as YAML, in their own order, ready for ``--params``."""
    return yaml.safe_dump(params, sort_keys=False, allow_unicode=True, default_flow_style=False).rstrip("\n")
