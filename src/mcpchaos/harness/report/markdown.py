"""The Markdown findings: a runbook the user keeps (GitHub Markdown, plain tables)."""

from __future__ import annotations

from collections.abc import Sequence

from mcpchaos.harness.journal import Journal, ScenarioResult, Status
from mcpchaos.harness.report import figures

SEVERITIES = (("failure", "Failures"), ("warning", "Warnings"), ("info", "Notes"))


def _text(text: object) -> str:
    """Journal text as inert Markdown: renderers pass raw HTML through, so ``<`` becomes an entity."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell(text: object) -> str:
    # A pipe would end the cell and a newline the row; neither may come through as is.
    return _text(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _mark(status: Status) -> str:
    return f"{figures.MARKS[status]} {status}"


def _what_was_done(result: ScenarioResult) -> list[str]:
    lines = [f"Started {_text(result.started_at)}, ran {result.duration_s:.1f} s."]
    if result.params:
        lines.append("Parameters: " + ", ".join(f"`{k}={v}`" for k, v in result.params.items()) + ".")
    if result.phases:
        phases = ", ".join(
            _text(p.name) + (f" ({_text(p.note)})" if p.note and p.note != p.name else "")
            for p in result.phases
        )
        lines.append(f"Phases: {phases}.")
    if result.fault_counts:
        lines.append(
            "Faults injected: " + ", ".join(f"{k} {v}" for k, v in sorted(result.fault_counts.items())) + "."
        )
    said = [_text(result.description), ""] if result.description else []
    return ["#### What was done", "", *said, " ".join(lines), ""]


def _limits(result: ScenarioResult) -> list[str]:
    items: list[str] = []
    if result.collapse_point is not None:
        items.append(f"- Collapse point: fault probability **{result.collapse_point:g}**")
    elif figures.degradation_phases(result):
        items.append("- Collapse point: not reached")
    for name, value in result.measurements.items():
        if name == "collapse_point" and result.collapse_point is not None:
            continue  # said above
        items.append(f"- {figures.label(name).capitalize()}: {figures.measurement(name, value)}")
    for row in figures.resource_rows(result.resources):
        if row.peak is not None and row.peak != row.baseline:
            peak, baseline, final = (
                figures.resource_value(row.resource, v) for v in (row.peak, row.baseline, row.final)
            )
            name = figures.RESOURCE_NAMES[row.resource]
            items.append(
                f"- Peak {name} of {_text(row.process)}: {peak} (baseline {baseline}, final {final})"
            )
    return ["#### Limits identified", "", *items, ""] if items else []


def _findings(result: ScenarioResult) -> list[str]:
    if not result.findings:
        return []
    lines = ["#### Failure modes and mitigations", ""]
    for severity, heading in SEVERITIES:
        found = [f for f in result.findings if f.severity == severity]
        if not found:
            continue
        lines += [f"**{heading}**", ""]
        for f in found:
            lines.append(f"- **{_text(f.title)}**: {_text(f.detail)}")
            if f.mitigation:
                lines.append(f"  - Mitigation: {_text(f.mitigation)}")
        lines.append("")
    return lines


def _scenario(result: ScenarioResult) -> list[str]:
    lines = [f"### {_text(result.scenario)}: {_mark(result.status)}", "", *_what_was_done(result)]
    lines += [f"{ready.capitalize()}.", ""] if (ready := figures.ready_line(result)) else []
    if result.skipped:
        lines += [f"**Skipped:** {_text(result.skipped)}", ""]
    if result.error:
        lines += [f"**The scenario did not run to the end:** {_text(result.error)}", ""]
    if result.inconclusive:
        lines += [f"**Inconclusive:** {_text(result.inconclusive)}", ""]
    if result.verdicts:
        rows = [[v.name, _mark(v.status), v.rule, v.detail] for v in result.verdicts]
        lines += ["#### Verdicts", "", *_table(["verdict", "result", "rule", "detail"], rows)]
    lines += _limits(result)
    lines += _findings(result)
    if result.phases:
        counts: list[list[object]] = [[name, *values] for name, values in figures.count_rows(result)]
        lines += ["#### Counts", "", *_table(["phase", *figures.COUNT_HEADERS], counts)]
    return lines


def render_markdown(journal: Journal) -> str:
    """The findings file for ``journal``."""
    statuses = [s.status for s in journal.scenarios]
    lines = [
        f"# mcpchaos findings: {_mark(journal.status)}",
        "",
        f"Target: {_text(journal.target.description)} ({journal.target.kind}, {journal.target.transport}). "
        f"Seed {journal.seed}{' (quick)' if journal.quick else ''}, run {_text(journal.created_at)}, "
        f"mcpchaos {_text(journal.environment.mcpchaos)} on {_text(journal.environment.platform)}.",
        "",
        f"{len(statuses)} scenarios: {figures.tally(statuses)}.",
        "",
    ]
    if journal.command:
        # The same seed gives the same faults on the same traffic: the run can be replayed.
        seed = [] if "--seed" in journal.command else ["--seed", str(journal.seed)]
        lines += [f"Rerun: `{' '.join([*journal.command, *seed])}`", ""]
    if journal.scenarios:
        rows = [
            [
                s.scenario,
                _mark(s.status),
                figures.tally([v.status for v in s.verdicts], verdicts=True) if s.verdicts else "–",
                figures.short(figures.why(s) or ""),
            ]
            for s in journal.scenarios
        ]
        lines += ["## Overall", "", *_table(["scenario", "result", "verdicts", "why"], rows)]
        lines += ["## Scenarios", ""]
        for s in journal.scenarios:
            lines += _scenario(s)
    return "\n".join(lines).rstrip() + "\n"
