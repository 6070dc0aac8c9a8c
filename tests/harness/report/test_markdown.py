"""The Markdown findings: a runbook with verdicts, limits, mitigations and accounting."""

from __future__ import annotations

from mcpchaos.harness.report import render_markdown
from tests.harness.report.sample import HOSTILE, inconclusive, sample_journal, skipped


def test_the_overall_result_comes_first() -> None:
    text = render_markdown(sample_journal())
    assert text.startswith("# mcpchaos findings: ❌ failed\n")
    assert "2 scenarios: 1 passed, 1 failed, 0 inconclusive, 0 skipped." in text
    assert "Rerun: `mcpchaos run suite --quick --seed 1234`" in text


def test_verdict_lines_carry_the_result_word_and_detail_and_each_rule_is_written_once() -> None:
    text = render_markdown(sample_journal())
    assert "| no_hangs | ❌ failed | 1 hung |" in text
    assert "| recovery | ✅ passed | recovered in 3.1 s |" in text
    rules = text.split("## Rules", 1)[1].split("## Scenarios", 1)[0]
    assert "| no_hangs | every request ends by its deadline | sudden_failure |" in rules
    assert text.count("every request ends by its deadline") == 1
    assert "### sudden_failure: ❌ failed" in text
    assert "### gradual_degradation: ✅ passed" in text


def test_skipped_and_inconclusive_are_their_own_words_never_a_pass() -> None:
    text = render_markdown(sample_journal(with_every_status=True))
    assert "4 scenarios: 1 passed, 1 failed, 1 inconclusive, 1 skipped." in text
    assert "| upstream_failure | ⏭️ skipped | – | Not run against this target: the target is a URL" in text
    assert "### upstream_failure: ⏭️ skipped" in text
    assert "**Finding:** Not run against this target: the target is a URL" in text
    assert "| intermittent_failures | ⚠️ inconclusive | 1 passed, 0 failed, 1 inconclusive |" in text
    assert "### intermittent_failures: ⚠️ inconclusive" in text
    assert "**Inconclusive:** the baseline is too weak" in text
    assert "'message' is a required property" in text
    assert "| recovery | ⚠️ inconclusive |" in text
    assert "PASS" not in text
    alone = sample_journal().model_copy(update={"scenarios": [skipped()]})
    assert render_markdown(alone).startswith("# mcpchaos findings: ⚠️ inconclusive\n")  # nothing judged
    judged = sample_journal().model_copy(update={"scenarios": [inconclusive(), skipped()]})
    assert render_markdown(judged).startswith("# mcpchaos findings: ⚠️ inconclusive\n")


def test_limits_list_the_collapse_point_and_measurements() -> None:
    text = render_markdown(sample_journal())
    assert "Measured:" in text
    assert "- Collapse point: fault probability **0.9**" in text
    assert "- Time to detect: 1.20 s" in text
    assert "- Time to recover: 3.10 s" in text
    assert "- Peak open fds of proxy: 140 (baseline 12, final 15)" in text


def test_findings_are_grouped_by_severity_with_mitigations() -> None:
    text = render_markdown(sample_journal())
    failures = text.index("**Failures**")
    warnings = text.index("**Warnings**")
    assert failures < warnings
    mitigation = text.split("#### Mitigation", 2)[2].split("####", 1)[0]  # sudden_failure's
    assert "- A request hung after the upstream came back: Give every client request a deadline" in mitigation
    assert "- Slow detection: Lower --breaker-window or --breaker-min." in mitigation


def test_the_counts_table_has_a_row_per_phase_and_the_total_with_tool_errors_apart() -> None:
    text = render_markdown(sample_journal(with_every_status=True))
    header = (
        "| phase | sent | answered | tool errors | lost | silent | not sent | duplicated | unexpected | hung "
        "| handshakes | handshakes failed |"
    )
    assert header in text
    assert "| upstream killed | 450 | 110 | 0 | 340 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |" in text
    assert "| total | 1871 | 1510 | 0 | 360 | 0 | 0 | 1 | 0 | 1 | 0 | 0 |" in text
    assert "| baseline | 80 | 80 | 80 | 0 | 0 | 0 | 0 | 0 | 0 | 4 | 0 |" in text
    assert "| total | 180 | 180 | 180 | 0 | 0 | 0 | 0 | 0 | 0 | 4 | 0 |" in text


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
    assert "### connection_storm: ❌ failed" in text
    assert "**The scenario did not run to the end:** could not start the upstream" in text


def test_absent_data_leaves_out_its_sections() -> None:
    journal = sample_journal(with_bare=True)
    text = render_markdown(journal.model_copy(update={"scenarios": [journal.scenarios[2]]}))
    assert "Measured:" not in text
    assert "#### Counts" not in text
    assert "| verdict | result | measured |" not in text
    assert "#### Parameters" not in text
    assert "## Rules" not in text
