"""The Markdown findings: a runbook the user keeps (GitHub Markdown, plain tables).

Per scenario: the finding in one sentence, the question it asked, the evidence, what to do
(a mitigation for every scenario), its parameters as YAML, what was done, and the counts.
Every verdict's rule is written once, in the Rules table at the top.
"""

from __future__ import annotations

import re
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
    if result.phases:
        phases = ", ".join(
            f"{_text(p.name)} ({p.ended_s - p.started_s:.1f} s"
            + (f", {_text(p.note)}" if p.note and p.note != p.name else "")
            + ")"
            for p in result.phases
        )
        lines.append(f"Phases: {phases}.")
    if result.fault_counts:
        lines.append(
            "Faults injected: " + ", ".join(f"{k} {v}" for k, v in sorted(result.fault_counts.items())) + "."
        )
    return ["#### What was done", "", " ".join(lines), ""]


def _parameters(result: ScenarioResult) -> list[str]:
    """The parameters as YAML, ready for ``--params`` (fenced past any backticks they hold)."""
    if not result.params:
        return []
    text = figures.params_yaml(result.params)
    fence = "`" * max([3, *(len(run) + 1 for run in re.findall(r"`+", text))])
    return ["#### Parameters", "", f"{fence}yaml", text, fence, ""]


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
    return items


def _evidence(result: ScenarioResult) -> list[str]:
    """What the finding rests on: the verdicts' measurements (their rules are listed once, at
    the top), the figures measured, why it could not judge, and what was seen going wrong."""
    lines: list[str] = []
    if result.error:
        lines += [f"**The scenario did not run to the end:** {_text(result.error)}", ""]
    if result.inconclusive:
        lines += [f"**Inconclusive:** {_text(result.inconclusive)}", ""]
    if result.verdicts:
        rows = [[v.name, _mark(v.status), v.detail] for v in result.verdicts]
        lines += _table(["verdict", "result", "measured"], rows)
    limits = _limits(result)
    if limits:
        lines += ["Measured:", "", *limits, ""]
    for severity, heading in SEVERITIES:
        found = [f for f in result.findings if f.severity == severity]
        if found:
            lines += [f"**{heading}**", ""]
            lines += [f"- **{_text(f.title)}**: {_text(f.detail)}" for f in found]
            lines.append("")
    return ["#### Evidence", "", *lines] if lines else []


def _mitigation(result: ScenarioResult) -> list[str]:
    """What to do: each finding's own mitigation, then the scenario's standing advice (each once)."""
    items = [f"- {_text(f.title)}: {_text(f.mitigation)}" for f in result.findings if f.mitigation]
    if result.mitigation and not any(f.mitigation == result.mitigation for f in result.findings):
        items.append(f"- {_text(result.mitigation)}")
    return ["#### Mitigation", "", *(items or ["- None recorded for this scenario."]), ""]


def _scenario(result: ScenarioResult) -> list[str]:
    lines = [f"### {_text(result.scenario)}: {_mark(result.status)}", ""]
    lines += [f"**Finding:** {_text(figures.finding(result))}", ""]
    lines += [f"{ready.capitalize()}.", ""] if (ready := figures.ready_line(result)) else []
    if result.description:
        lines += [f"**Question:** {_text(result.description)}", ""]
    lines += _evidence(result)
    lines += _mitigation(result)
    lines += _parameters(result)
    lines += _what_was_done(result)
    if result.phases:
        # Last in the section: the counts the consistency check reads back.
        counts: list[list[object]] = [[name, *values] for name, values in figures.count_rows(result)]
        lines += ["#### Counts", "", *_table(["phase", *figures.COUNT_HEADERS], counts)]
    return lines


def _rules(journal: Journal) -> list[str]:
    """Every verdict's rule, each text once (a scenario's verdict table gives only its measurement)."""
    seen: dict[tuple[str, str], list[str]] = {}
    for s in journal.scenarios:
        for v in s.verdicts:
            seen.setdefault((v.name, v.rule), []).append(s.scenario)
    if not seen:
        return []
    rows = [[name, rule, ", ".join(scenarios)] for (name, rule), scenarios in seen.items()]
    return ["## Rules", "", *_table(["verdict", "rule", "judged in"], rows)]


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
                figures.short(figures.finding(s)),
            ]
            for s in journal.scenarios
        ]
        lines += ["## Overall", "", *_table(["scenario", "result", "verdicts", "finding"], rows)]
        lines += _rules(journal)
        lines += ["## Scenarios", ""]
        for s in journal.scenarios:
            lines += _scenario(s)
    return "\n".join(lines).rstrip() + "\n"
