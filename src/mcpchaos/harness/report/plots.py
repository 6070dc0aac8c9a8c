"""The plots of one scenario, each with a line on how to read it: what the HTML report draws.

Each plot answers part of the scenario's question, and is drawn only where the journal holds
what it needs: the degradation curve needs two fault levels or more, the limit plots need
periodic samples of the proxy's gauges, the independent load's line needs its timeline.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcpchaos.harness.journal import ScenarioResult
from mcpchaos.harness.report import figures, svg

OUTCOME_COLOURS = {
    "ok": svg.BLUE,
    "tool_error": svg.SKY,
    "error": svg.VERMILLION,
    "transport": svg.ORANGE,
    "deadline": svg.PURPLE,
}

OTHER_COLOURS = (svg.GREEN, svg.ORANGE, svg.PURPLE)
"""Lines of the loads beside the main one (cascading_failure's independent calls)."""


@dataclass(frozen=True)
class Plot:
    """One figure: an anchor for the table of contents, its title, the SVG and how to read it."""

    slug: str
    title: str
    svg: str
    caption: str


def plots(result: ScenarioResult) -> list[Plot]:
    """The plots for ``result``, in the order the report shows them."""
    made = [
        degradation(result),
        latency(result),
        outcome_shares(result),
        recovery(result),
        *(gauge(result, resource) for resource in figures.LIMITS),
        memory(result),
    ]
    return [p for p in made if p is not None]


def _bands(result: ScenarioResult) -> list[svg.Band]:
    return [svg.Band(p.started_s, p.ended_s, p.name) for p in result.phases]


def _markers(result: ScenarioResult) -> list[svg.Marker]:
    return [svg.Marker(e.t_s, label, svg.PURPLE) for e, label in figures.shown_events(result)]


def degradation(result: ScenarioResult) -> Plot | None:
    phases = figures.degradation_phases(result)
    if not phases:
        return None
    measured = [(p.fault_probability or 0.0, p.outcomes.success_rate) for p in phases]
    markers = []
    if result.collapse_point is not None:
        markers.append(svg.Marker(result.collapse_point, f"collapse point p={result.collapse_point:g}"))
    title = "Success rate against fault probability"
    chart = svg.line_chart(
        title,
        [
            svg.Series("measured", measured, svg.BLUE),
            # Error-only faults at probability p leave 1 - p: the reference the eye compares with.
            svg.Series("theory 1 − p", [(0.0, 1.0), (1.0, 0.0)], svg.GREY, dashed=True, dots=False),
        ],
        x_label="fault probability",
        y_label="success rate",
        x_range=(0.0, 1.0),
        y_range=(0.0, 1.0),
        y_percent=True,
        markers=markers,
    )
    caption = (
        "Each dot is one fault level: the share of calls that succeeded at it. The dashed line is "
        "1 − p, what error faults alone leave; dots far below it mean the faults do more harm than "
        "their share (retries, timeouts, a stuck session)."
    )
    return Plot("degradation", title, chart, caption)


def latency(result: ScenarioResult) -> Plot | None:
    buckets = result.timeline
    if not any(b.p50_ms is not None or b.p99_ms is not None for b in buckets):
        return None
    mid = [b.t_s + b.width_s / 2 for b in buckets]
    title = "Latency over time"
    chart = svg.line_chart(
        title,
        [
            svg.Series("p50", [(x, b.p50_ms) for x, b in zip(mid, buckets, strict=True)], svg.BLUE),
            svg.Series("p99", [(x, b.p99_ms) for x, b in zip(mid, buckets, strict=True)], svg.VERMILLION),
        ],
        x_label="time (s)",
        y_label="latency (ms)",
        bands=_bands(result),
        markers=_markers(result),
    )
    caption = (
        "Median (p50) and p99 latency of the calls that started in each time slice; shaded bands "
        "are the phases. A p99 that stays up after a phase ends is a queue that has not drained."
    )
    return Plot("latency", title, chart, caption)


def outcome_shares(result: ScenarioResult) -> Plot | None:
    phases = [p for p in result.phases if p.outcomes.total > 0]
    if not phases:
        return None
    stacks = [
        svg.Stack(
            kind,
            [getattr(p.outcomes, kind) / p.outcomes.total for p in phases],
            colour,
            notes=[f"{getattr(p.outcomes, kind)} of {p.outcomes.total} calls" for p in phases],
        )
        for kind, colour in OUTCOME_COLOURS.items()
    ]
    title = "Outcome shares per phase"
    chart = svg.stacked_bars(
        title, [p.name for p in phases], stacks, y_label="share of calls", y_percent=True
    )
    caption = (
        "Each bar is one phase, split by how its calls ended, as shares of that phase's calls (the "
        "counts are in the tables below). Blue is success; the other colours are the ways calls failed."
    )
    return Plot("outcomes", title, chart, caption)


def recovery(result: ScenarioResult) -> Plot | None:
    buckets = [b for b in result.timeline if b.outcomes.total > 0]
    if not buckets:
        return None
    series = [svg.Series("main load", [(b.t_s + b.width_s / 2, b.outcomes.success_rate) for b in buckets])]
    for colour, (name, timeline) in zip(OTHER_COLOURS, result.other_timelines.items(), strict=False):
        points = [(b.t_s + b.width_s / 2, b.outcomes.success_rate) for b in timeline if b.outcomes.total > 0]
        series.append(svg.Series(f"{name} load", points, colour, dashed=True, dots=False))
    title = "Recovery timeline: success rate per time bucket"
    chart = svg.line_chart(
        title,
        series,
        x_label="time (s)",
        y_label="success rate",
        y_range=(0.0, 1.0),
        y_percent=True,
        bands=_bands(result),
        markers=_markers(result),
    )
    caption = (
        "The share of calls that succeeded in each time slice; vertical lines are events. After a "
        "fault or outage ends, the line should climb back to its baseline level and stay there."
    )
    if result.other_timelines:
        names = ", ".join(result.other_timelines)
        caption += (
            f" The dashed line is the {names} load, run beside the main one on calls that do not use "
            "the failing part (cascading_failure: A's own calls, which never reach B): it should stay up."
        )
    return Plot("recovery", title, chart, caption)


def gauge(result: ScenarioResult, resource: str) -> Plot | None:
    """A proxy gauge over time (open connections, sessions) against the limit the scenario set."""
    points = figures.over_time(result.resources, "proxy", resource)
    limit_param, how = figures.LIMITS[resource]
    limit = result.params.get(limit_param)
    if len(points) < 2 or not isinstance(limit, int | float):
        return None
    start, end = points[0][0], points[-1][0]
    name = figures.RESOURCE_NAMES[resource]
    title = f"{name.capitalize()} against the limit"
    chart = svg.line_chart(
        title,
        [
            svg.Series(name, [(t, float(v)) for t, v in points], svg.BLUE, dots=False),
            svg.Series(
                f"--{limit_param.replace('_', '-')}",
                [(start, limit), (end, limit)],
                svg.VERMILLION,
                dashed=True,
                dots=False,
            ),
        ],
        x_label="time (s)",
        y_label=name,
        y_range=(0.0, svg.nice_ceiling(max(float(limit), *(float(v) for _, v in points)) * 1.1)),
        bands=_bands(result),
        markers=_markers(result),
    )
    caption = (
        f"The {name} the proxy held, sampled over the run; the dashed line is the limit ({limit:g}): {how}."
    )
    return Plot(resource, title, chart, caption)


def memory(result: ScenarioResult) -> Plot | None:
    """Resident memory of each process over time (periodic samples only)."""
    series = []
    for colour, process in zip(
        (svg.BLUE, svg.ORANGE, svg.GREEN), figures.processes(result.resources), strict=False
    ):
        points = figures.over_time(result.resources, process, "rss_bytes")
        if len(points) >= 2:
            series.append(svg.Series(process, [(t, v / 2**20) for t, v in points], colour, dots=False))
    if not series:
        return None
    title = "Memory (RSS) over time"
    chart = svg.line_chart(
        title,
        series,
        x_label="time (s)",
        y_label="RSS (MiB)",
        bands=_bands(result),
        markers=_markers(result),
    )
    caption = (
        "Resident memory of each process, sampled over the run. Under pressure it may rise, but it "
        "should level off rather than grow with the load, and not keep climbing once the load eases."
    )
    return Plot("memory", title, chart, caption)
