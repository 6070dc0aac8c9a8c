"""Reports built from a run journal alone: ``journal.json``, ``report.html``, ``findings.md``.

``render_html`` and ``render_markdown`` are pure (journal in, text out); ``files`` does the I/O.
"""

from mcpchaos.harness.report.files import JournalError, ReportFiles, load_journal, write_reports
from mcpchaos.harness.report.html import render_html
from mcpchaos.harness.report.markdown import render_markdown

__all__ = ["JournalError", "ReportFiles", "load_journal", "render_html", "render_markdown", "write_reports"]
