"""Reading a journal back and writing the three report files next to it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from mcpchaos.errors import ConfigError
from mcpchaos.harness.journal import SCHEMA_VERSION, Journal
from mcpchaos.harness.report.html import render_html
from mcpchaos.harness.report.markdown import render_markdown

JOURNAL_NAME = "journal.json"
HTML_NAME = "report.html"
MARKDOWN_NAME = "findings.md"

# Enough validation errors to see the pattern; a wholly foreign file would list hundreds.
_MAX_ERRORS_SHOWN = 10


class JournalError(ConfigError):
    """A journal file that cannot be read: missing, not JSON, another schema, or invalid."""


@dataclass(frozen=True)
class ReportFiles:
    """Where the report files went."""

    journal: Path
    html: Path
    markdown: Path


def write_reports(journal: Journal, out_dir: Path) -> ReportFiles:
    """Write ``journal.json``, ``report.html`` and ``findings.md`` into ``out_dir``."""
    journal_path = out_dir / JOURNAL_NAME
    out_dir.mkdir(parents=True, exist_ok=True)
    journal_path.write_text(journal.model_dump_json(indent=2), encoding="utf-8")
    html, markdown = write_rendered(journal, out_dir)
    return ReportFiles(journal=journal_path, html=html, markdown=markdown)


def write_rendered(journal: Journal, out_dir: Path) -> tuple[Path, Path]:
    """Write only ``report.html`` and ``findings.md`` (the journal stays as it is)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    html = out_dir / HTML_NAME
    markdown = out_dir / MARKDOWN_NAME
    html.write_text(render_html(journal), encoding="utf-8")
    markdown.write_text(render_markdown(journal), encoding="utf-8")
    return html, markdown


def load_journal(path: Path) -> Journal:
    """The journal in ``path``; a :class:`JournalError` naming the file and the problem otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise JournalError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise JournalError(f"{path}: cannot read it: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JournalError(f"{path}: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(data, dict):
        raise JournalError(f"{path}: not a run journal (expected a JSON object, got {type(data).__name__})")
    # The version first: a journal from another mcpchaos would otherwise drown in field errors.
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise JournalError(
            f"{path}: schema_version {version!r} is not supported (this mcpchaos reads {SCHEMA_VERSION})"
        )
    try:
        return Journal.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"  {'.'.join(str(part) for part in error['loc']) or '(top)'}: {error['msg']}"
            for error in exc.errors()
        ]
        more = len(problems) - _MAX_ERRORS_SHOWN
        shown = problems[:_MAX_ERRORS_SHOWN] + ([f"  … and {more} more"] if more > 0 else [])
        raise JournalError(f"{path}: not a valid run journal:\n" + "\n".join(shown)) from None
