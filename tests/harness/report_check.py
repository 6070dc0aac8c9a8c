"""Reading every output of a run back and checking each count and result word against the
journal: findings.md, report.html, journal.json itself and what the terminal printed."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

COLUMNS = {
    "sent": ("accounting", "sent"),
    "answered": ("accounting", "answered"),
    "tool errors": ("outcomes", "tool_error"),
    "lost": ("accounting", "lost"),
    "silent": ("accounting", "silent"),
    "not sent": ("accounting", "not_sent"),
    "duplicated": ("accounting", "duplicated"),
    "unexpected": ("accounting", "unexpected"),
    "hung": ("accounting", "hung"),
    "handshakes": ("accounting", "handshakes"),
    "handshakes failed": ("accounting", "handshakes_failed"),
}
"""Each count a report shows, and where the journal has it (a phase's or a total's record)."""

Table = list[list[str]]


def expected_rows(scenario: dict[str, Any]) -> dict[str, dict[str, int]]:
    """What the counts table must say, straight from the journal's JSON."""

    def row(record: dict[str, Any]) -> dict[str, int]:
        return {name: int(record[part][field]) for name, (part, field) in COLUMNS.items()}

    rows = {phase["name"]: row(phase) for phase in scenario["phases"]}
    rows["total"] = row(scenario["totals"])
    for name, load in scenario["other_loads"].items():
        rows[f"{name} load (total)"] = row(load)
    return rows


def check_journal(scenario: dict[str, Any], verdict_details: bool = True) -> None:
    """The totals are the sum of the phases; the verdicts state those same numbers."""
    for name, (part, field) in COLUMNS.items():
        summed = sum(int(phase[part][field]) for phase in scenario["phases"])
        assert scenario["totals"][part][field] == summed, (scenario["scenario"], name)
    acc = scenario["totals"]["accounting"]
    outcomes = scenario["totals"]["outcomes"]
    assert acc["answered"] == outcomes["ok"] + outcomes["tool_error"] + outcomes["error"]
    assert acc["sent"] + acc["not_sent"] == sum(outcomes[k] for k in OUTCOMES) + acc["hung"]
    for verdict in scenario["verdicts"] if verdict_details else []:
        detail = verdict["detail"]
        if verdict["name"] == "nothing_lost":
            said = f"sent {acc['sent']}: answered {acc['answered']}, lost {acc['lost']} "
            said += f"({acc['lost'] - acc['silent']} told by a transport failure, {acc['silent']} silent"
            assert said in detail, detail
            assert f"hung {acc['hung']}; duplicated {acc['duplicated']}" in detail, detail
        if verdict["name"] == "metrics_accurate":
            loads = [scenario["totals"], *scenario["other_loads"].values()]
            calls = sum(load["accounting"]["sent"] for load in loads)
            handshakes = sum(load["accounting"]["handshakes"] for load in loads)
            assert f"{calls + handshakes} requests ({calls} calls + {handshakes} handshakes" in detail, detail
        if verdict["name"] == "no_hangs":
            loads = [scenario["totals"], *scenario["other_loads"].values()]
            hung = sum(load["accounting"]["hung"] for load in loads)
            started = sum(
                sum(load["outcomes"][k] for k in OUTCOMES) + load["accounting"]["hung"] for load in loads
            )
            assert detail.startswith(f"{hung} of {started} request(s)"), detail


OUTCOMES = ("ok", "tool_error", "error", "transport", "deadline")


def _as_rows(table: Table) -> dict[str, dict[str, int]]:
    header, *body = table
    assert header[0] == "phase", header
    assert header[1:] == list(COLUMNS), header
    return {cells[0]: dict(zip(header[1:], map(int, cells[1:]), strict=True)) for cells in body}


# -- findings.md ------------------------------------------------------------------------


def markdown_sections(text: str) -> dict[str, tuple[str, Table | None]]:
    """Per scenario: its result word and its counts table (None without one)."""
    out: dict[str, tuple[str, Table | None]] = {}
    for part in re.split(r"^### ", text, flags=re.M)[1:]:
        heading, _, body = part.partition("\n")
        name, _, result = heading.partition(": ")
        table: Table | None = None
        if "#### Counts" in body:
            lines = body.split("#### Counts", 1)[1].strip().splitlines()
            rows = [line for line in lines if line.startswith("|")]
            table = [[c.strip() for c in row.strip("|").split("|")] for row in rows if "---" not in row]
        out[name] = (result.split()[-1], table)
    return out


def overall_markdown_words(text: str) -> dict[str, str]:
    overall = text.split("## Overall", 1)[1].split("## Scenarios", 1)[0]
    rows = [line for line in overall.splitlines() if line.startswith("| ") and "---" not in line][1:]
    return {cells[0].strip(): cells[1].split()[-1] for cells in (r.strip("|").split("|") for r in rows)}


# -- report.html ------------------------------------------------------------------------


class _Page(HTMLParser):
    """Each scenario section's heading word and tables (cells as text)."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[dict[str, Any]] = []
        self._in: list[str] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._table: Table | None = None
        self._h2: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self.sections.append({"title": "", "word": "", "tables": [], "text": []})
        elif tag == "h2" and self.sections and not self.sections[-1]["title"]:
            self._h2 = []
        elif tag == "span" and self._h2 is not None:
            self.sections[-1]["word"] = dict(attrs).get("class") or ""
        elif tag == "table" and self.sections:
            self._table = []
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2" and self._h2 is not None:
            self.sections[-1]["title"] = "".join(self._h2).split()[0]
            self._h2 = None
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self._table.append(self._row)
            self._row = None
        elif tag == "table" and self._table is not None:
            self.sections[-1]["tables"].append(self._table)
            self._table = None

    def handle_data(self, data: str) -> None:
        if self.sections:
            self.sections[-1]["text"].append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._h2 is not None:
            self._h2.append(data)


def html_sections(page: str) -> dict[str, tuple[str, Table | None]]:
    parser = _Page()
    parser.feed(page)
    out: dict[str, tuple[str, Table | None]] = {}
    for section in parser.sections:
        counts = [t for t in section["tables"] if t and t[0][:2] == ["phase", "sent"]]
        out[section["title"]] = (section["word"], counts[0] if counts else None)
    return out


def html_texts(page: str) -> dict[str, str]:
    """Each scenario section's text (tags left out)."""
    parser = _Page()
    parser.feed(page)
    return {section["title"]: "".join(section["text"]) for section in parser.sections}


# -- the terminal -----------------------------------------------------------------------


def terminal_rows(text: str) -> list[tuple[str, str, str, str]]:
    """The summary table's logical rows (scenario, verdict, result, detail), wrapped cells joined."""
    rows: list[list[str]] = []
    for line in text.splitlines():
        if not line.startswith("│"):
            continue
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if len(cells) != 4:
            continue
        if cells[0]:
            rows.append(cells)
        elif rows:
            rows[-1] = [(a + " " + b).strip() for a, b in zip(rows[-1], cells, strict=True)]
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def terminal_counts(text: str, scenario: str, load: str | None = None) -> dict[str, int]:
    """The ``counts:`` line (or ``counts (LOAD load):``) printed when ``scenario`` finished
    (rich may have wrapped it)."""
    flat = " ".join(text.split())
    which = re.escape("counts:" if load is None else f"counts ({load} load):")
    pattern = rf"\b\w+ {re.escape(scenario)} in [\d.]+s.*? {which} (.*?handshakes \d+, handshakes failed \d+)"
    found = re.search(pattern, flat)
    assert found, f"no counts line for {scenario}"
    return _counts_line(found.group(1))


def terminal_after(text: str, scenario: str, status: str) -> str:
    """What the terminal printed with ``scenario``'s result line (its indented lines, as rich
    wrapped them), up to the next progress message or result line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{status} {scenario} in "))
    said = [lines[start]]
    for line in lines[start + 1 :]:
        if re.match(r"^\s*\d+\.\ds |^(passed|failed|inconclusive|skipped) \S+ in |^[┏┃┡│└]", line):
            break
        said.append(line)
    return " ".join(" ".join(said).split())


READY = re.compile(r"target ready after ([\d.]+) s", re.IGNORECASE)


def check_ready(scenario: dict[str, Any], where: str, text: str) -> None:
    """The start-up line says the journal's ``ready_after_s`` (2 decimals), once, or is absent."""
    said = READY.findall(text)
    ready = scenario.get("ready_after_s")
    assert said == ([] if ready is None else [f"{ready:.2f}"]), (where, scenario["scenario"], said, ready)


def _counts_line(line: str) -> dict[str, int]:
    pairs = [part.strip().rsplit(" ", 1) for part in line.split(",")]
    return {name: int(value) for name, value in pairs}


# -- everything at once -----------------------------------------------------------------


def check_run(out: Path, terminal: str, verdict_details: bool = True) -> dict[str, Any]:
    """Check every output of the run in ``out`` (and the terminal text) against its journal;
    ``verdict_details``: also the numbers the verdicts state (a real run's verdicts)."""
    journal: dict[str, Any] = json.loads((out / "journal.json").read_text(encoding="utf-8"))
    markdown = (out / "findings.md").read_text(encoding="utf-8")
    md = markdown_sections(markdown)
    md_overall = overall_markdown_words(markdown)
    page = (out / "report.html").read_text(encoding="utf-8")
    html = html_sections(page)
    html_text = html_texts(page)
    md_text = {part.partition(":")[0]: part for part in re.split(r"^### ", markdown, flags=re.M)[1:]}
    rows = terminal_rows(terminal)
    assert markdown.startswith(f"# mcpchaos findings: {_mark(journal['status'])} {journal['status']}\n")
    for scenario in journal["scenarios"]:
        name, status = scenario["scenario"], scenario["status"]
        check_journal(scenario, verdict_details)
        expected = expected_rows(scenario) if scenario["phases"] else None
        for where, (word, table) in (("findings.md", md[name]), ("report.html", html[name])):
            assert word == status, (where, name, word, status)
            assert (table and _as_rows(table)) == (expected or None), (where, name)
        assert md_overall[name] == status
        mine = [r for r in rows if r[0] == name]
        for verdict in scenario["verdicts"]:
            (shown,) = [r for r in mine if r[1] == verdict["name"]]
            assert shown[2] == verdict["status"], (name, verdict["name"], shown)
        if expected is not None:
            (counts,) = [r for r in mine if r[1] == "counts"]
            assert _counts_line(counts[3]) == expected["total"], (name, counts)
            assert terminal_counts(terminal, name) == expected["total"], name
        for load in scenario["other_loads"]:
            assert expected is not None
            (counts,) = [r for r in mine if r[1] == f"counts ({load} load)"]
            assert _counts_line(counts[3]) == expected[f"{load} load (total)"], (name, counts)
            assert terminal_counts(terminal, name, load) == expected[f"{load} load (total)"], name
        assert re.search(rf"^{status} {re.escape(name)} in ", terminal, flags=re.M), (name, status)
        check_ready(scenario, "findings.md", md_text[name])
        check_ready(scenario, "report.html", html_text[name])
        check_ready(scenario, "terminal", terminal_after(terminal, name, status))
    return journal


def _mark(status: str) -> str:
    return {"passed": "✅", "failed": "❌", "inconclusive": "⚠️", "skipped": "⏭️"}[status]
