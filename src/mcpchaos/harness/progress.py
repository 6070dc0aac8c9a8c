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

from mcpchaos.harness.journal import ScenarioResult
from mcpchaos.harness.scenario import ProgressSink


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
        """One line per scenario as it finishes."""
        if result.skipped:
            self.console.print(f"[yellow]SKIP[/yellow] {result.scenario}: {result.skipped}")
            return
        if result.error:
            self.console.print(f"[red]ERROR[/red] {result.scenario}: {result.error}")
            return
        failed = [v.name for v in result.verdicts if not v.passed]
        status = "[green]PASS[/green]" if not failed else "[red]FAIL[/red]"
        extra = f" (failed: {', '.join(failed)})" if failed else ""
        self.console.print(f"{status} {result.scenario} in {result.duration_s:.1f}s{extra}")

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


def summary_table(results: list[ScenarioResult]) -> Table:
    """Every verdict of every scenario, for the end of the run."""
    table = Table(title="mcpchaos run", show_lines=False)
    table.add_column("scenario")
    table.add_column("verdict")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for result in results:
        if result.skipped or result.error:
            table.add_row(
                result.scenario,
                "—",
                "[yellow]skipped[/yellow]" if result.skipped else "[red]error[/red]",
                result.skipped or result.error or "",
            )
            continue
        for verdict in result.verdicts:
            table.add_row(
                result.scenario,
                verdict.name,
                "[green]pass[/green]" if verdict.passed else "[red]FAIL[/red]",
                verdict.detail,
            )
    return table
