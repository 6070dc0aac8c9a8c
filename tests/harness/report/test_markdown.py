"""The Markdown findings: a runbook with verdicts, limits, mitigations and accounting."""

from __future__ import annotations

from mcpchaos.harness.report import render_markdown
from tests.harness.report.sample import HOSTILE, sample_journal


def test_the_overall_result_comes_first() -> None:
    text = render_markdown(sample_journal())
    assert text.startswith("# mcpchaos findings: ❌ FAIL\n")
    assert "1 of 2 scenarios passed." in text
    assert "Rerun: `mcpchaos run suite --quick --seed 1234`" in text


def test_verdict_lines_carry_mark_rule_and_detail() -> None:
    text = render_markdown(sample_journal())
    assert "| ❌ no_hangs | every request ends by its deadline | 1 hung |" in text
    assert "| ✅ recovery | success ≥ 99% of baseline within 5 s of clearing | recovered in 3.1 s |" in text
    assert "### sudden_failure: ❌ FAIL" in text
    assert "### gradual_degradation: ✅ PASS" in text


def test_limits_list_the_collapse_point_and_measurements() -> None:
    text = render_markdown(sample_journal())
    assert "- Collapse point: fault probability **0.9**" in text
    assert "- Time to detect: 1.20 s" in text
    assert "- Time to recover: 3.10 s" in text
    assert "- Peak open fds of proxy: 140 (baseline 12, final 15)" in text


def test_findings_are_grouped_by_severity_with_mitigations() -> None:
    text = render_markdown(sample_journal())
    failures = text.index("**Failures**")
    warnings = text.index("**Warnings**")
    assert failures < warnings
    assert "  - Mitigation: Give every client request a deadline (e.g. 30 s)." in text
    assert "  - Mitigation: Lower --breaker-window or --breaker-min." in text


def test_accounting_line_sums_the_phases() -> None:
    text = render_markdown(sample_journal())
    assert "**Accounting:** sent 1871, answered 1510, lost 360, duplicated 1, unexpected 0, hung 1." in text


def test_journal_text_cannot_inject_html_or_break_tables() -> None:
    journal = sample_journal()
    result = journal.scenarios[1]
    verdict = result.verdicts[0].model_copy(update={"detail": "a | b"})
    result = result.model_copy(update={"verdicts": [verdict]})
    text = render_markdown(journal.model_copy(update={"scenarios": [journal.scenarios[0], result]}))
    assert HOSTILE not in text
    assert "&lt;script&gt;" in text
    assert "| a \\| b |" in text


def test_a_scenario_that_did_not_run_says_why() -> None:
    text = render_markdown(sample_journal(with_bare=True))
    assert "### connection_storm: ❌ FAIL" in text
    assert "**The scenario did not run to the end:** could not start the upstream" in text


def test_absent_data_leaves_out_its_sections() -> None:
    journal = sample_journal(with_bare=True)
    text = render_markdown(journal.model_copy(update={"scenarios": [journal.scenarios[2]]}))
    assert "#### Limits identified" not in text
    assert "**Accounting:**" not in text
    assert "#### Verdicts" not in text
