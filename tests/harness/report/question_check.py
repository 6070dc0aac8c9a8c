"""Reading a run's HTML and findings.md back: does each scenario's report answer its question?

Used on real quick runs (the runs other tests already make) and on hand-made journals: the
plots a scenario needs are there, labels do not overlap, outcomes are shares, the table of
contents resolves, every plot says how to read it, and findings.md reads as a runbook.
"""

from __future__ import annotations

import re
from html import unescape
from itertools import combinations

import yaml

from mcpchaos.harness.journal import Journal, ScenarioResult
from mcpchaos.harness.report import figures, render_html, render_markdown, svg

Box = tuple[float, float, float, float, str]

_TEXT = re.compile(
    r'<text x="([\d.-]+)" y="([\d.-]+)" text-anchor="(\w+)" font-size="(\d+)"([^>]*)>([^<]*)</text>'
)


def journal_of(*results: ScenarioResult) -> Journal:
    from tests.harness.report.sample import sample_journal

    return sample_journal().model_copy(update={"scenarios": list(results)})


def sections(page: str) -> list[str]:
    return re.findall(r"<section>.*?</section>", page, flags=re.S)


def plots_of(section: str) -> dict[str, str]:
    """Each SVG of a scenario's section, by its title."""
    return {
        unescape(m.group(1)): m.group(0)
        for m in re.finditer(r"<svg[^>]*>\s*<title>([^<]*)</title>.*?</svg>", section, flags=re.S)
    }


def text_boxes(chart: str) -> list[Box]:
    """The box each (unrotated) label takes, by the width the layout assumes."""
    boxes: list[Box] = []
    for x, y, anchor, size, extra, text in _TEXT.findall(chart):
        if "rotate" in extra:
            continue  # the y axis label, alone in the left margin
        width = svg.text_width(unescape(text), int(size))
        left = float(x) - {"start": 0.0, "middle": width / 2, "end": width}[anchor]
        boxes.append((left, float(y) - int(size), left + width, float(y), unescape(text)))
    return boxes


def overlaps(chart: str) -> list[tuple[str, str]]:
    out = []
    for a, b in combinations(text_boxes(chart), 2):
        if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
            out.append((a[4], b[4]))
    return out


def marker_labels(chart: str) -> list[str]:
    """The labels drawn beside vertical markers (events, the collapse point): each follows its line."""
    labels = []
    for match in re.finditer(r'<line class="marker"[^>]*/>\s*', chart):
        label = _TEXT.match(chart, match.end())
        assert label is not None
        labels.append(unescape(label.group(6)))
    return labels


def check_page(journal: Journal) -> None:
    """The HTML report of ``journal``: every general rule of item 6, and each scenario's figure."""
    page = render_html(journal)
    anchors = set(re.findall(r'id="([^"]+)"', page))
    links = re.findall(r'href="#([^"]+)"', page)
    assert links
    assert set(links) <= anchors, set(links) - anchors
    toc = page.split('<nav class="toc">', 1)[1].split("</nav>", 1)[0]
    for result, section in zip(journal.scenarios, sections(page), strict=True):
        charts = plots_of(section)
        for title, chart in charts.items():
            assert not overlaps(chart), (result.scenario, title, overlaps(chart))
            assert f">{title}</a>" in toc, title
        figures_ = re.findall(r"<figure.*?</figure>", section, flags=re.S)
        assert len(figures_) == len(charts)
        assert all("<figcaption>How to read it: " in f for f in figures_)
        levels = {
            p.fault_probability for p in result.phases if p.fault_probability is not None and p.outcomes.total
        }
        assert ("Success rate against fault probability" in charts) == (len(levels) >= 2), (
            result.scenario,
            levels,
        )
        if "Outcome shares per phase" in charts:
            ticks = re.findall(
                r'text-anchor="end" font-size="11">([^<]*)</text>', charts["Outcome shares per phase"]
            )
            assert ticks[0] == "0%", ticks
            assert ticks[-1] == "100%", ticks
        if not sum(result.fault_counts.values()):
            for chart in charts.values():
                assert not any(label.startswith("faults") for label in marker_labels(chart)), result.scenario
        check_question(result, charts)


def check_question(result: ScenarioResult, charts: dict[str, str]) -> None:
    """The figure that answers this scenario's own question."""
    params = result.params
    if result.scenario == "cascading_failure" and result.other_timelines:
        recovery = charts["Recovery timeline: success rate per time bucket"]
        assert ">independent load</text>" in recovery  # a line for A's own calls
        assert re.search(rf'<polyline [^>]*stroke="{svg.GREEN}"[^>]*stroke-dasharray', recovery)
        ends = [b.t_s for b in result.timeline]
        mine = [b.t_s for b in result.other_timelines["independent"] if b.outcomes.total]
        assert mine
        assert min(ends) <= mine[0]  # one clock: the independent load started later
        assert mine[-1] <= max(ends) + 1.0
    if result.scenario == "connection_storm" and "max_connections" in params:
        assert "Open connections against the limit" in charts
        values = [v for _, v in figures.over_time(result.resources, "proxy", "connections")]
        assert max(values) > min(values), values  # the storm shows
        assert max(values) <= params["max_connections"], values  # never past the limit
    if result.scenario == "memory_pressure" and "max_sessions" in params:
        assert "Sessions against the limit" in charts
        assert "Memory (RSS) over time" in charts
        sessions = [v for _, v in figures.over_time(result.resources, "proxy", "sessions")]
        bound = params["max_sessions"] + params["concurrency"] + params["load"]["clients"]
        assert params["max_sessions"] <= max(sessions) <= bound, (sessions, bound)
        assert len(figures.over_time(result.resources, "proxy", "rss_bytes")) >= figures.MIN_PERIODIC


def check_runbook(journal: Journal) -> None:
    """findings.md: per scenario a finding sentence, a mitigation, the parameters as YAML; each
    rule text once."""
    text = render_markdown(journal)
    parts = re.split(r"^### ", text, flags=re.M)[1:]
    assert len(parts) == len(journal.scenarios)
    for result, part in zip(journal.scenarios, parts, strict=True):
        finding = re.search(r"^\*\*Finding:\*\* (.+)$", part, flags=re.M)
        assert finding is not None, result.scenario
        assert finding.group(1).endswith("."), result.scenario
        mitigation = part.split("#### Mitigation\n\n", 1)[1].split("\n\n", 1)[0]
        assert mitigation.startswith("- "), result.scenario
        if result.mitigation:
            assert "None recorded" not in mitigation
        if result.params:
            block = re.search(r"#### Parameters\n\n(`{3,})yaml\n(.*?)\n\1\n", part, flags=re.S)
            assert block is not None, result.scenario
            assert yaml.safe_load(block.group(2)) == result.params
        assert re.search(r"\b0\.\d{4,}\b", part.split("#### Parameters", 1)[0]) is None, result.scenario
    for rule in {v.rule for s in journal.scenarios for v in s.verdicts}:
        said = rule.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
        assert text.count(said) == 1, rule
