"""The HTML report: one self-contained page (inline CSS and SVG, no scripts, no network).

Every string from the journal goes through :func:`html.escape` (tables via :func:`_table`,
plots inside :mod:`svg`): scenario descriptions and error details may carry anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from mcpchaos.harness.journal import Journal, ScenarioResult, Status
from mcpchaos.harness.report import figures, plots

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
figure { margin: .8em 0 1.4em; } figcaption { color: #555; font-size: .9em; margin-top: .2em; }
.toc ol { padding-left: 1.4em; } .toc ul { margin: .1em 0 .4em; font-size: .92em; }
.finding { font-size: 1.05em; }
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


def _plot(plot: plots.Plot, index: int) -> str:
    return (
        f'<figure class="plot" id="s{index}-{plot.slug}">{plot.svg}'
        f"<figcaption>How to read it: {escape(plot.caption)}</figcaption></figure>"
    )


def _outcome_tables(result: ScenarioResult) -> str:
    """Under the outcome shares: the counts behind them, by code and kind, and the first errors."""
    phases = [p for p in result.phases if p.outcomes.total > 0]
    rows: list[list[Cell]] = []
    for p in phases:
        if p.outcomes.tool_error:
            rows.append([p.name, "tool error", "isError: true", p.outcomes.tool_error])
        rows += [[p.name, "error", code, n] for code, n in sorted(p.outcomes.error_codes.items())]
        rows += [[p.name, "transport", kind, n] for kind, n in sorted(p.outcomes.transport_kinds.items())]
    codes = _table(["phase", "outcome", "code / kind", "count"], rows) if rows else ""
    first = [[p.name, "; ".join(p.outcomes.first_errors)] for p in phases if p.outcomes.first_errors]
    texts = _table(["phase", "first errors"], first) if first else ""
    return codes + texts


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
    return _table(["process", "resource", "baseline", "peak", "final"], rows)


def _counts(result: ScenarioResult) -> str:
    if not result.phases:
        return ""
    rows: list[list[Cell]] = [[name, *values] for name, values in figures.count_rows(result)]
    return '<div class="counts">' + _table(["phase", *figures.COUNT_HEADERS], rows) + "</div>"


def _findings(result: ScenarioResult) -> str:
    items = "".join(
        f'<li><span class="sev-{f.severity}">{escape(f.severity)}</span> <strong>{escape(f.title)}</strong>: '
        f"{escape(f.detail)}"
        + (f"<br><em>Mitigation:</em> {escape(f.mitigation)}" if f.mitigation else "")
        + "</li>"
        for f in result.findings
    )
    if result.mitigation:
        items += f"<li><em>If this fails:</em> {escape(result.mitigation)}</li>"
    return f"<ul>{items}</ul>" if items else ""


Contents = list[tuple[str, str]]
"""(anchor, title) of a scenario's parts, for the table of contents."""


def _scenario(result: ScenarioResult, index: int) -> tuple[str, Contents]:
    contents: Contents = []

    def part(slug: str, title: str, body: str) -> str:
        if not body:
            return ""
        contents.append((f"s{index}-{slug}", title))
        return f'<h3 id="s{index}-{slug}">{escape(title)}</h3>{body}'

    parts = [f'<h2 id="s{index}">{escape(result.scenario)} {_badge(result.status).markup}</h2>']
    if result.description:
        parts.append(f"<p>{escape(result.description)}</p>")
    parts.append(f'<p class="finding"><strong>Finding:</strong> {escape(figures.finding(result))}</p>')
    parts.append(f'<p class="meta">started {escape(result.started_at)}, ran {result.duration_s:.1f} s</p>')
    parts.append(f'<p class="meta ready">{ready}</p>' if (ready := figures.ready_line(result)) else "")
    if result.params:
        yaml_text = escape(figures.params_yaml(result.params))
        parts.append(f"<details><summary>Parameters (YAML)</summary><pre>{yaml_text}</pre></details>")
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
        parts.append(part("verdicts", "Verdicts", _table(["verdict", "result", "rule", "detail"], rows)))
    if result.measurements:
        rows = [[figures.label(k), figures.measurement(k, v)] for k, v in result.measurements.items()]
        parts.append(part("measurements", "Measurements", _table(["figure", "value"], rows)))
    for plot in plots.plots(result):
        contents.append((f"s{index}-{plot.slug}", plot.title))
        parts.append(_plot(plot, index))
        if plot.slug == "outcomes":
            parts.append(_outcome_tables(result))
    parts += [
        part("resources", "Resources", _resources(result)),
        part("counts", "Counts", _counts(result)),
        part("findings", "Findings and mitigations", _findings(result)),
    ]
    return "<section>" + "\n".join(p for p in parts if p) + "</section>", contents


def _toc(journal: Journal, contents: list[Contents]) -> str:
    """The table of contents: the summary, then each scenario with its parts and plots."""
    items = ['<li><a href="#summary">Summary</a></li>']
    for index, (result, parts) in enumerate(zip(journal.scenarios, contents, strict=True)):
        sub = "".join(f'<li><a href="#{anchor}">{escape(title)}</a></li>' for anchor, title in parts)
        items.append(
            f'<li><a href="#s{index}">{escape(result.scenario)}</a> {_badge(result.status).markup}'
            + (f"<ul>{sub}</ul>" if sub else "")
            + "</li>"
        )
    return f'<nav class="toc"><h2>Contents</h2><ol>{"".join(items)}</ol></nav>'


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
        sections = [_scenario(s, i) for i, s in enumerate(journal.scenarios)]
        body.append(_toc(journal, [contents for _, contents in sections]))
        body.append(
            f'<h2 id="summary">Summary</h2><p>{len(journal.scenarios)} scenarios: {tally}.</p>'
            + _summary(journal)
        )
        body += [section for section, _ in sections]
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
