"""Numbers in words and derived tables, shared by the HTML and the Markdown reports.

Both reports must say the same thing, so formatting and every figure derived from the
journal (resource rows, phase success rates) live here once.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcpchaos.harness.journal import Accounting, PhaseRecord, ResourceSample, ScenarioResult

RESOURCE_NAMES = {
    "rss_bytes": "RSS",
    "fds": "open fds",
    "children": "child processes",
    "threads": "threads",
    "tasks": "asyncio tasks",
}
"""The measured resources of a :class:`ResourceSample`, in table order, as the reports name them."""


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
    """A named figure with the unit its name implies (``_s``, ``_ms``, ``_bytes``, ``rate``)."""
    if value is None:
        return "not reached"
    if name.endswith("_s"):
        return f"{value:.2f} s"
    if name.endswith("_ms"):
        return ms(value)
    if name.endswith("_bytes"):
        return size(int(value))
    if "rate" in name or "probability" in name:
        return percent(value) if 0 <= value <= 1 else f"{value:g}"
    return f"{value:g}"


def label(name: str) -> str:
    """``time_to_recover_s`` → ``time to recover``: names as the user reads them."""
    for suffix in ("_s", "_ms", "_bytes"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name.replace("_", " ")


def accounting_line(acc: Accounting) -> str:
    return (
        f"sent {acc.sent}, answered {acc.answered}, lost {acc.lost}, duplicated {acc.duplicated}, "
        f"unexpected {acc.unexpected}, hung {acc.hung}"
    )


def scenario_accounting(result: ScenarioResult) -> Accounting:
    """The scenario's accounting: the sum over its phases."""
    total = Accounting()
    for phase in result.phases:
        a = phase.accounting
        total = Accounting(
            sent=total.sent + a.sent,
            answered=total.answered + a.answered,
            lost=total.lost + a.lost,
            duplicated=total.duplicated + a.duplicated,
            unexpected=total.unexpected + a.unexpected,
            hung=total.hung + a.hung,
        )
    return total


def degradation_phases(result: ScenarioResult) -> list[PhaseRecord]:
    """Phases with a fault probability and any outcome: the points of the degradation plot."""
    return [p for p in result.phases if p.fault_probability is not None and p.outcomes.total > 0]


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
    processes = list(dict.fromkeys(s.process for s in samples))
    for process in processes:
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
