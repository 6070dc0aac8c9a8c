"""The HTML report, read as the user reads it: plots, markers, phases, verdicts, escaping."""

from __future__ import annotations

import re

from mcpchaos.harness.journal import Journal
from mcpchaos.harness.report import render_html
from tests.harness.report.sample import HOSTILE, bare, gradual_degradation, sample_journal, sudden_failure


def _one(scenario: object) -> Journal:
    journal = sample_journal()
    return journal.model_copy(update={"scenarios": [scenario]})


def _svg_titles(page: str) -> list[str]:
    return re.findall(r"<svg[^>]*>\s*<title>([^<]*)</title>", page)


def test_degradation_gets_all_four_plots() -> None:
    titles = _svg_titles(render_html(_one(gradual_degradation())))
    assert titles == [
        "Success rate against fault probability",
        "Latency over time",
        "Outcome shares per phase",
        "Recovery timeline: success rate per time bucket",
    ]


def test_a_scenario_without_fault_probabilities_has_no_degradation_plot() -> None:
    titles = _svg_titles(render_html(_one(sudden_failure())))
    assert "Success rate against fault probability" not in titles
    assert len(titles) == 3


def test_the_collapse_point_is_marked_and_the_theory_line_drawn() -> None:
    page = render_html(_one(gradual_degradation()))
    assert 'class="marker"' in page
    assert "collapse point p=0.9" in page
    assert "theory 1 − p" in page
    assert 'stroke-dasharray="6 4"' in page  # the reference line is dashed


def test_one_degradation_point_per_phase_with_a_fault_probability() -> None:
    page = render_html(_one(gradual_degradation()))
    first_svg = page[page.index("<svg") : page.index("</svg>")]
    measured = re.search(r'<polyline points="([^"]*)"[^>]*stroke="#0072B2"', first_svg)
    assert measured is not None
    assert len(measured.group(1).split()) == 11


def test_phase_names_shade_the_time_plots_and_label_the_bars() -> None:
    page = render_html(_one(sudden_failure()))
    for name in ("healthy", "upstream killed", "cleared"):
        assert page.count(f">{name}</text>") >= 3  # latency bands, bars, recovery bands
    for event in ("upstream_killed", "breaker_opened", "upstream_restarted"):
        assert f">{event}</text>" in page


def test_error_codes_and_transport_kinds_are_tabled_under_the_bars() -> None:
    page = render_html(_one(sudden_failure()))
    for text in ("-32016", "http_503", "reset", "refused"):
        assert f"<td>{text}</td>" in page


def test_verdicts_pass_and_fail_are_shown_with_rule_and_detail() -> None:
    page = render_html(sample_journal())
    assert '<h1>mcpchaos report <span class="failed">failed</span></h1>' in page
    assert '<td>no_hangs</td><td><span class="failed">failed</span></td>' in page
    assert '<td>recovery</td><td><span class="passed">passed</span></td>' in page
    assert "every request ends by its deadline" in page
    assert "recovered in 3.1 s" in page


def test_a_run_that_passes_says_passed() -> None:
    page = render_html(_one(gradual_degradation()))
    assert "<title>mcpchaos report: passed</title>" in page
    assert 'class="failed"' not in page


def test_skipped_and_inconclusive_scenarios_say_so_and_why() -> None:
    page = render_html(sample_journal(with_every_status=True))
    assert "4 scenarios: 1 passed, 1 failed, 1 inconclusive, 1 skipped." in page
    assert 'upstream_failure <span class="skipped">skipped</span></h2>' in page
    assert "Skipped: the target is a URL" in page
    assert 'intermittent_failures <span class="inconclusive">inconclusive</span></h2>' in page
    assert '<td>recovery</td><td><span class="inconclusive">inconclusive</span></td>' in page
    assert "the baseline is too weak to judge against" in page
    assert "<td>tool error</td>" in page  # in the outcome table, apart from JSON-RPC errors
    assert "PASS" not in page


def test_journal_text_is_escaped() -> None:
    page = render_html(sample_journal())
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "<script" not in page


def test_the_page_is_self_contained() -> None:
    page = render_html(sample_journal())
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page
    assert "<link" not in page


def test_resources_accounting_and_findings_are_tabled() -> None:
    page = render_html(_one(sudden_failure()))
    assert "<td>proxy</td><td>RSS</td><td>38.1 MiB</td><td>85.8 MiB</td><td>49.6 MiB</td>" in page
    total = "".join(f'<td class="num">{n}</td>' for n in (1871, 1510, 0, 360, 0, 0, 1, 0, 1, 0, 0))
    assert f"<td>total</td>{total}" in page
    assert "Give every client request a deadline" in page


def test_absent_data_renders_without_plots() -> None:
    journal = sample_journal(with_bare=True)
    page = render_html(journal.model_copy(update={"scenarios": [bare()]}))
    assert "<svg" not in page
    assert "could not start the upstream" in page
    assert '<h2 id="summary">Summary</h2>' in page


def test_a_journal_without_scenarios_renders() -> None:
    page = render_html(sample_journal().model_copy(update={"scenarios": []}))
    assert "This run has no scenarios." in page


def test_phases_without_a_timeline_keep_the_bars_and_skip_the_time_plots() -> None:
    scenario = sudden_failure().model_copy(update={"timeline": [], "events": []})
    titles = _svg_titles(render_html(_one(scenario)))
    assert titles == ["Outcome shares per phase"]


def test_a_timeline_without_phases_draws_the_time_plots_unshaded() -> None:
    scenario = sudden_failure().model_copy(update={"phases": []})
    page = render_html(_one(scenario))
    assert _svg_titles(page) == ["Latency over time", "Recovery timeline: success rate per time bucket"]
    assert "<h3>Counts</h3>" not in page
