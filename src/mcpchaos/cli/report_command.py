"""``mcpchaos report JOURNAL.json [--out DIR]``: rebuild report.html and findings.md from a journal.

The journal is only read, never rewritten: it is the record of the run.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mcpchaos.cli.helpformat import HelpFormatter


def add_parser(commands: Any) -> None:
    report = commands.add_parser(
        "report",
        help="rebuild report.html and findings.md from a run journal",
        description="Read the journal a chaos run wrote (journal.json) and write the HTML report and the "
        "Markdown findings again, e.g. after upgrading mcpchaos. Nothing is rerun.",
        epilog="example:\n  mcpchaos report runs/2026-11-28/journal.json --out /tmp/report",
        formatter_class=HelpFormatter,
    )
    report.add_argument("journal", metavar="JOURNAL.json", type=Path, help="the journal of a run")
    report.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        help="where to write the reports (default: the journal's directory)",
    )
    # main() calls this for the command; set here so registering a command stays in its own module.
    report.set_defaults(run_command=run)


def run(args: argparse.Namespace) -> int:
    """Rebuild the reports; a bad journal raises JournalError (a ConfigError: exit 2)."""
    # Imported here: ``mcpchaos --help`` and the other commands need none of the report code.
    from mcpchaos.harness.report.files import load_journal, write_rendered

    journal_path: Path = args.journal
    journal = load_journal(journal_path)
    out_dir: Path = args.out if args.out is not None else journal_path.parent
    for path in write_rendered(journal, out_dir):
        print(path)
    return 0
