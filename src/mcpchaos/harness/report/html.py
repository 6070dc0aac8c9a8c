"""The HTML report: one self-contained page (inline CSS and SVG, no scripts, no network).

Every string from the journal goes through :func:`html.escape` (tables via :func:`_table`,
plots inside :mod:`svg`): scenario descriptions and error details may carry anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from mcpchaos.harness.journal import Journal, ScenarioResult, Status
from mcpchaos.harness.report import figures, svg

OUTCOME_COLOURS = {
    "ok": svg.BLUE,
    "tool_error": svg.SKY,
    "error": svg.VERMILLION,
    "transport": svg.ORANGE,
    "deadline": svg.PURPLE,
}

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       max-width: 960px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { margin-bottom: .2em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
h3 { margin-top: 1.4em; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: .92em; }
th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.passed, .failed, .inconclusive, .skipped { color: #fff; padding: .05em .5em; border-radius: 3px;
       font-weight: 600; }
.passed { background: #1a7f37; } .failed { background: #c62828; }
.inconclusive { background: #9a6700; } .skipped { background: #666; }
.meta { color: #555; } .plot { margin: .8em 0 1.4em; }
.sev-failure { color: #c62828; font-weight: 600; } .sev-warning { color: #9a6700; font-weight: 600; }
.sev-info { color: #555; font-weight: 600; } pre { background: #f6f6f6; padding: .6em; overflow-x: auto; }
"""


@dataclass(frozen=True)
class _Html:
    """Markup we built ourselves, to place in a table cell without escaping it again."""

    markup: str


Cell = str | int | float | _Html


def _cell(value: Cell) -> str:
    if isinstance(value, _Html):
        return f"<td>{value.markup}</td>"
    if isinstance(value, int | float):
        return f'<td class="num">{escape(str(value))}</td>'
    return f"<td>{escape(value)}</td>"


def _table(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _badge(status: Status) -> _Html:
    return _Html(f'<span class="{status}">{status}</span>')


def _plot(chart: str) -> str:
    return f'<div class="plot">{chart}</div>'


def _degradation_plot(result: ScenarioResult) -> str | None:
    phases = figures.degradation_phases(result)
    if not phases:
        return None
    measured = [(p.fault_probability or 0.0, p.outcomes.success_rate) for p in phases]
    markers = []
    if result.collapse_point is not None:
        markers.append(svg.Marker(result.collapse_point, f"collapse point p={result.collapse_point:g}"))
    return svg.line_chart(
        "Success rate against fault probability",
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


def _bands(result: ScenarioResult) -> list[svg.Band]:
    return [svg.Band(p.started_s, p.ended_s, p.name) for p in result.phases]


def _latency_plot(result: ScenarioResult) -> str | None:
    buckets = result.timeline
    if not any(b.p50_ms is not None or b.p99_ms is not None for b in buckets):
        return None
    mid = [b.t_s + b.width_s / 2 for b in buckets]
    return svg.line_chart(
        "Latency over time",
        [
            svg.Series("p50", [(x, b.p50_ms) for x, b in zip(mid, buckets, strict=True)], svg.BLUE),
            svg.Series("p99", [(x, b.p99_ms) for x, b in zip(mid, buckets, strict=True)], svg.VERMILLION),
        ],
        x_label="time (s)",
        y_label="latency (ms)",
        bands=_bands(result),
    )


def _recovery_plot(result: ScenarioResult) -> str | None:
    buckets = [b for b in result.timeline if b.outcomes.total > 0]
    if not buckets:
        return None
    return svg.line_chart(
        "Recovery timeline: success rate per time bucket",
        [svg.Series("success rate", [(b.t_s + b.width_s / 2, b.outcomes.success_rate) for b in buckets])],
        x_label="time (s)",
        y_label="success rate",
        y_range=(0.0, 1.0),
        y_percent=True,
        bands=_bands(result),
        markers=[svg.Marker(e.t_s, e.kind, svg.PURPLE) for e in result.events],
    )


def _outcome_plot(result: ScenarioResult) -> str | None:
    phases = [p for p in result.phases if p.outcomes.total > 0]
    if not phases:
        return None
    stacks = [
        svg.Stack(kind, [float(getattr(p.outcomes, kind)) for p in phases], colour)
        for kind, colour in OUTCOME_COLOURS.items()
    ]
    chart = svg.stacked_bars("Outcomes per phase", [p.name for p in phases], stacks, y_label="requests")
    rows: list[list[Cell]] = []
    for p in phases:
        if p.outcomes.tool_error:
            rows.append([p.name, "tool error", "isError: true", p.outcomes.tool_error])
        rows += [[p.name, "error", code, n] for code, n in sorted(p.outcomes.error_codes.items())]
        rows += [[p.name, "transport", kind, n] for kind, n in sorted(p.outcomes.transport_kinds.items())]
    codes = _table(["phase", "outcome", "code / kind", "count"], rows) if rows else ""
    first = [[p.name, "; ".join(p.outcomes.first_errors)] for p in phases if p.outcomes.first_errors]
    texts = _table(["phase", "first errors"], first) if first else ""
    return chart + codes + texts


def _resources(result: ScenarioResult) -> str:
    rows: list[list[Cell]] = [
        [
            r.process,
            figures.RESOURCE_NAMES[r.resource],
            figures.resource_value(r.resource, r.baseline),
            figures.resource_value(r.resource, r.peak),
            figures.resource_value(r.resource, r.final),
        ]
        for r in figures.resource_rows(result.resources)
    ]
    if not rows:
        return ""
    return "<h3>Resources</h3>" + _table(["process", "resource", "baseline", "peak", "final"], rows)


def _counts(result: ScenarioResult) -> str:
    if not result.phases:
        return ""
    rows: list[list[Cell]] = [[name, *values] for name, values in figures.count_rows(result)]
    return '<h3>Counts</h3><div class="counts">' + _table(["phase", *figures.COUNT_HEADERS], rows) + "</div>"


def _findings(result: ScenarioResult) -> str:
    if not result.findings:
        return ""
    items = "".join(
        f'<li><span class="sev-{f.severity}">{escape(f.severity)}</span> <strong>{escape(f.title)}</strong>: '
        f"{escape(f.detail)}"
        + (f"<br><em>Mitigation:</em> {escape(f.mitigation)}" if f.mitigation else "")
        + "</li>"
        for f in result.findings
    )
    return f"<h3>Findings</h3><ul>{items}</ul>"


def _scenario(result: ScenarioResult, index: int) -> str:
    parts = [f'<h2 id="s{index}">{escape(result.scenario)} {_badge(result.status).markup}</h2>']
    if result.description:
        parts.append(f"<p>{escape(result.description)}</p>")
    parts.append(
        f'<p class="meta">started {escape(result.started_at)}, ran {result.duration_s:.1f} s'
        + (f", parameters: <code>{escape(str(result.params))}</code>" if result.params else "")
        + "</p>"
    )
    parts.append(f'<p class="meta ready">{ready}</p>' if (ready := figures.ready_line(result)) else "")
    if result.skipped:
        parts.append(f'<p class="meta">Skipped: {escape(result.skipped)}</p>')
    if result.error:
        parts.append(
            '<p class="sev-failure">The scenario did not run to the end:</p>'
            f"<pre>{escape(result.error)}</pre>"
        )
    if result.inconclusive:
        parts.append(f'<p class="sev-warning">Inconclusive:</p><pre>{escape(result.inconclusive)}</pre>')
    if result.verdicts:
        rows: list[list[Cell]] = [[v.name, _badge(v.status), v.rule, v.detail] for v in result.verdicts]
        parts.append("<h3>Verdicts</h3>" + _table(["verdict", "result", "rule", "detail"], rows))
    if result.measurements:
        rows = [[figures.label(k), figures.measurement(k, v)] for k, v in result.measurements.items()]
        parts.append("<h3>Measurements</h3>" + _table(["figure", "value"], rows))
    plots = [_degradation_plot(result), _latency_plot(result), _outcome_plot(result), _recovery_plot(result)]
    parts += [_plot(p) for p in plots if p is not None]
    parts += [_resources(result), _counts(result), _findings(result)]
    return "<section>" + "\n".join(p for p in parts if p) + "</section>"


def _summary(journal: Journal) -> str:
    rows: list[list[Cell]] = []
    for i, s in enumerate(journal.scenarios):
        verdicts = figures.tally([v.status for v in s.verdicts], verdicts=True) if s.verdicts else "–"
        key = "; ".join(f"{figures.label(k)} {figures.measurement(k, v)}" for k, v in s.measurements.items())
        name = _Html(f'<a href="#s{i}">{escape(s.scenario)}</a>')
        said = key or figures.short(figures.why(s) or "–")
        rows.append([name, _badge(s.status), verdicts, said])
    return _table(["scenario", "result", "verdicts", "key measurements"], rows)


def render_html(journal: Journal) -> str:
    """The whole report page for ``journal``."""
    env = journal.environment
    target = journal.target
    overall = _badge(journal.status).markup
    header = (
        f"<h1>mcpchaos report {overall}</h1>"
        f'<p class="meta">target: {escape(target.description)} ({escape(target.kind)}, '
        f"{escape(target.transport)}, protocol {escape(target.protocol)})<br>"
        f"seed {journal.seed}{' (quick)' if journal.quick else ''}, run {escape(journal.created_at)}"
        + (f", command <code>{escape(' '.join(journal.command))}</code>" if journal.command else "")
        + f"<br>mcpchaos {escape(env.mcpchaos)}, Python {escape(env.python)}, {escape(env.platform)}, "
        f"{env.cpus} CPUs"
        + (f", MCP SDK {escape(env.mcp_sdk)}" if env.mcp_sdk else "")
        + (f", host {escape(env.hostname)}" if env.hostname else "")
        + "</p>"
    )
    body = [header]
    if journal.scenarios:
        tally = figures.tally([s.status for s in journal.scenarios])
        body.append(
            f"<h2>Summary</h2><p>{len(journal.scenarios)} scenarios: {tally}.</p>" + _summary(journal)
        )
        body += [_scenario(s, i) for i, s in enumerate(journal.scenarios)]
    else:
        body.append("<p>This run has no scenarios.</p>")
    title = f"mcpchaos report: {journal.status}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
