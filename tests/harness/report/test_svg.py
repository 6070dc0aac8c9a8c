"""The plotting module on its own: ticks, escaping, skipped gaps."""

from __future__ import annotations

from mcpchaos.harness.report import svg


def test_ticks_are_round_and_cover_the_range() -> None:
    assert svg.nice_ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert svg.nice_ticks(0.0, 13.0) == [0.0, 5.0, 10.0]
    assert svg.nice_ceiling(13.0) == 15.0
    assert svg.nice_ceiling(0.0) == 1.0


def test_a_none_value_breaks_the_line() -> None:
    chart = svg.line_chart(
        "gaps",
        [svg.Series("s", [(0, 1.0), (1, 2.0), (2, None), (3, 1.0), (4, 2.0)])],
        x_label="x",
        y_label="y",
    )
    assert chart.count("<polyline") == 2


def test_labels_are_escaped() -> None:
    chart = svg.stacked_bars("<b>", ["a&b"], [svg.Stack("<i>", [1.0], svg.BLUE)], y_label="n")
    assert "<b>" not in chart
    assert "<i>" not in chart
    assert "&lt;b&gt;" in chart
    assert "a&amp;b" in chart


def test_an_empty_chart_still_draws_axes() -> None:
    chart = svg.line_chart("empty", [], x_label="x", y_label="y")
    assert chart.startswith("<svg")
    assert chart.endswith("</svg>")
