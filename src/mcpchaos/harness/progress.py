"""Live progress of a chaos run on the terminal (rich): phase, fault level, success, p99.

On a terminal a live line is redrawn twice a second; elsewhere (CI logs, pipes) only phase
changes and actions are printed, one line each, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from mcpchaos.harness.journal import ScenarioResult, Status
from mcpchaos.harness.report import figures
from mcpchaos.harness.scenario import ProgressSink

STYLES: dict[Status, str] = {"passed": "green", "failed": "red", "inconclusive": "yellow", "skipped": "dim"}
"""The colour of each result word on the terminal (the word itself is always printed)."""


def word(status: Status) -> str:
    """A result word in its colour (rich markup)."""
    return f"[{STYLES[status]}]{status}[/{STYLES[status]}]"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


class TerminalProgress(ProgressSink):
    """Progress on stderr; call :meth:`close` at the end."""

    def __init__(self, console: Console | None = None) -> None:
        # Logs (not a terminal) get a wide table rather than rich's 80 columns.
        self.console = console or Console(
            stderr=True, highlight=False, width=None if sys.stderr.isatty() else 160
        )
        self._started = time.monotonic()
        self._live: Live | None = None
        if self.console.is_terminal:
            self._live = Live(Text(""), console=self.console, refresh_per_second=4, transient=True)
            self._live.start()

    def update(self, scenario: str, phase: str, detail: dict[str, Any]) -> None:
        if self._live is None:
            return
        level = detail.get("fault_probability")
        p99 = detail.get("p99_ms")
        line = Text.assemble(
            (f"{time.monotonic() - self._started:6.1f}s ", "dim"),
            (scenario, "bold"),
            " › ",
            (phase, "cyan"),
            f"  faults {'—' if level is None else f'{level:.0%}'}",
            f"  success {_percent(detail.get('success_rate'))}",
            f"  p99 {'—' if p99 is None else f'{p99:.0f} ms'}",
            f"  requests {detail.get('requests', 0)}",
            f"  in flight {detail.get('in_flight', 0)}",
        )
        self._live.update(line)

    def message(self, text: str) -> None:
        self.console.print(
            f"[dim]{time.monotonic() - self._started:6.1f}s[/dim] {text}", markup=True, highlight=False
        )

    def scenario_done(self, result: ScenarioResult) -> None:
        """One line per scenario as it finishes: its result word, which verdicts failed or
        could not judge, why, and its counts."""
        line = f" {result.scenario} in {result.duration_s:.1f}s"
        for kind in ("failed", "inconclusive"):
            names = [v.name for v in result.verdicts if v.status == kind]
            line += f" ({kind}: {', '.join(names)})" if names else ""
        said = figures.why(result)
        line += f": {said}" if said else ""
        self.console.print(Text.from_markup(word(result.status)) + Text(line), highlight=False)
        if result.phases:
            counts = figures.counts_line(result.totals)
            self.console.print(f"  counts: {counts}", markup=False, highlight=False)
        for name, other in result.other_loads.items():
            counts = figures.counts_line(other)
            self.console.print(f"  counts ({name} load): {counts}", markup=False, highlight=False)
        if (ready := figures.ready_line(result)) is not None:
            self.console.print(f"  {ready}", markup=False, highlight=False)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


def summary_table(results: list[ScenarioResult], title: str = "mcpchaos run") -> Table:
    """Every verdict of every scenario, for the end of the run."""
    table = Table(title=title, show_lines=False)
    table.add_column("scenario")
    table.add_column("verdict")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for result in results:
        said = figures.why(result)
        if said is not None or not result.verdicts:
            table.add_row(result.scenario, "—", word(result.status), Text(said or "no verdict"))
        for verdict in result.verdicts:
            table.add_row(result.scenario, verdict.name, word(verdict.status), Text(verdict.detail))
        if result.phases:
            table.add_row(result.scenario, "counts", "—", figures.counts_line(result.totals))
        for name, other in result.other_loads.items():
            table.add_row(result.scenario, f"counts ({name} load)", "—", figures.counts_line(other))
    return table
