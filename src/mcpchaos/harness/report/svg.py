"""A small plotting module: line charts and stacked bars as inline SVG strings.

The report must be one self-contained file with no scripts, so we draw the few plots it
needs ourselves rather than pulling in a plotting library. Every text is escaped here, so
callers pass plain strings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
BLUE = "#0072B2"
ORANGE = "#E69F00"
SKY = "#56B4E9"
GREEN = "#009E73"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
GREY = "#777777"
BAND_FILL = "#eef2f7"

WIDTH = 720
HEIGHT = 300
# Margins leave room for tick labels (left, bottom), the title (top) and the legend (right).
LEFT, RIGHT, TOP, BOTTOM = 56, 150, 30, 44


@dataclass(frozen=True)
class Series:
    """One line: points in data coordinates; None values break the line."""

    name: str
    points: Sequence[tuple[float, float | None]]
    color: str = BLUE
    dashed: bool = False
    dots: bool = True


@dataclass(frozen=True)
class Band:
    """A shaded x-range with a label along its top (a phase)."""

    x0: float
    x1: float
    label: str


@dataclass(frozen=True)
class Marker:
    """A vertical line at x with a label (an event, the collapse point)."""

    x: float
    label: str
    color: str = VERMILLION


@dataclass(frozen=True)
class Stack:
    """One layer of a stacked bar chart: a value per category."""

    name: str
    values: Sequence[float]
    color: str
    notes: Sequence[str] = ()
    """Per category, what the bar's tooltip adds (e.g. the count behind a share)."""


@dataclass
class _Frame:
    """Maps data coordinates to pixels inside the plot area."""

    x_lo: float
    x_hi: float
    y_lo: float
    y_hi: float
    width: int = WIDTH
    height: int = HEIGHT
    top: int = TOP
    """The top margin: more when rows of phase names need it."""
    bottom: int = BOTTOM
    """The bottom margin: more when rows of category labels need it."""
    parts: list[str] = field(default_factory=list)

    def px(self, x: float) -> float:
        span = self.x_hi - self.x_lo or 1.0
        return LEFT + (x - self.x_lo) / span * (self.width - LEFT - RIGHT)

    def py(self, y: float) -> float:
        span = self.y_hi - self.y_lo or 1.0
        return self.height - self.bottom - (y - self.y_lo) / span * (self.height - self.top - self.bottom)


CHAR_EM = 0.62
"""A generous average glyph width of a sans-serif font, in em: the room a label is given."""


def text_width(text: str, size: int) -> float:
    """The width a label of ``size`` px is assumed to take (labels are laid out with it)."""
    return len(text) * size * CHAR_EM


def label_rows(spans: Sequence[tuple[float, float]], gap: float = 8.0) -> list[int]:
    """A row for each label's x-span so that labels in one row never overlap: greedy, left to
    right, each label in the first row where it fits (phase names and events close in time)."""
    ends: list[float] = []
    rows = [0] * len(spans)
    for i in sorted(range(len(spans)), key=lambda i: spans[i][0]):
        x0, x1 = spans[i]
        row = next((r for r, end in enumerate(ends) if x0 >= end + gap), len(ends))
        if row == len(ends):
            ends.append(x1)
        else:
            ends[row] = x1
        rows[i] = row
    return rows


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering [lo, hi] (steps of 1, 2 or 5 times 10^n)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks: list[float] = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def nice_ceiling(value: float) -> float:
    """The smallest round tick value at or above ``value`` (the top of an axis from zero)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    ticks = nice_ticks(0.0, value)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else value
    return math.ceil(value / step - 1e-9) * step


def _fmt(value: float) -> str:
    if value == int(value) and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.3g}"


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int = 11, extra: str = "") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}"{extra}>'
        f"{escape(text)}</text>"
    )


def _open(title: str, width: int, height: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" font-family="system-ui, sans-serif">',
        f"<title>{escape(title)}</title>",
        _text(LEFT, 18, title, size=13, extra=' font-weight="600"'),
    ]


def _axes(frame: _Frame, x_label: str, y_label: str, y_percent: bool) -> None:
    p = frame.parts
    bottom = frame.height - frame.bottom
    right = frame.width - RIGHT
    for tick in nice_ticks(frame.y_lo, frame.y_hi):
        y = frame.py(tick)
        p.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#e3e3e3"/>')
        label = f"{tick * 100:.0f}%" if y_percent else _fmt(tick)
        p.append(_text(LEFT - 6, y + 4, label, anchor="end"))
    for tick in nice_ticks(frame.x_lo, frame.x_hi, 8):
        x = frame.px(tick)
        p.append(f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" stroke="#333"/>')
        p.append(_text(x, bottom + 16, _fmt(tick), anchor="middle"))
    p.append(f'<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#333"/>')
    p.append(f'<line x1="{LEFT}" y1="{frame.top}" x2="{LEFT}" y2="{bottom}" stroke="#333"/>')
    p.append(_text((LEFT + right) / 2, frame.height - 8, x_label, anchor="middle"))
    mid = (frame.top + bottom) / 2
    p.append(_text(14, mid, y_label, anchor="middle", extra=f' transform="rotate(-90 14 {mid:.1f})"'))


def _legend(parts: list[str], width: int, entries: Sequence[tuple[str, str, bool]]) -> None:
    """Entries of (name, colour, dashed), listed down the right margin."""
    x = width - RIGHT + 14
    for i, (name, color, dashed) in enumerate(entries):
        y = TOP + 8 + i * 18
        dash = ' stroke-dasharray="5 4"' if dashed else ""
        parts.append(
            f'<line x1="{x}" y1="{y}" x2="{x + 22}" y2="{y}" stroke="{color}" stroke-width="3"{dash}/>'
        )
        parts.append(_text(x + 28, y + 4, name))


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    y_range: tuple[float, float] | None = None,
    x_range: tuple[float, float] | None = None,
    y_percent: bool = False,
    bands: Sequence[Band] = (),
    markers: Sequence[Marker] = (),
) -> str:
    """A line chart with axes, ticks, a legend, shaded x-ranges and vertical markers."""
    xs = [x for s in series for x, _ in s.points]
    xs += [b.x0 for b in bands] + [b.x1 for b in bands] + [m.x for m in markers]
    ys = [y for s in series for _, y in s.points if y is not None]
    x_lo, x_hi = x_range or ((min(xs), max(xs)) if xs else (0.0, 1.0))
    if y_range is None:
        top = max(ys) if ys else 1.0
        # Headroom above the highest point, from zero: the eye compares heights, not offsets.
        y_range = (0.0, nice_ceiling(top * 1.05))
    frame = _Frame(x_lo, x_hi if x_hi > x_lo else x_lo + 1.0, *y_range)
    parts = frame.parts
    right = frame.width - RIGHT
    # Phase names in rows above the plot (off the data, none overlapping); the plot keeps its height.
    band_spans = [_fit(frame.px(b.x0) + 2, text_width(b.label, 9), right) for b in bands]
    band_rows = label_rows(band_spans)
    frame.top = TOP + 11 * (max(band_rows) + 1) if bands else TOP
    frame.height = HEIGHT + frame.top - TOP
    labels: list[str] = []
    for i, (band, row) in enumerate(zip(bands, band_rows, strict=True)):
        x0, x1 = frame.px(band.x0), frame.px(band.x1)
        # Alternate two fills so neighbouring phases stay apart.
        fill = BAND_FILL if i % 2 == 0 else "#fafafa"
        parts.append(
            f'<rect x="{x0:.1f}" y="{frame.top}" width="{max(x1 - x0, 0):.1f}" '
            f'height="{frame.height - frame.top - frame.bottom}" fill="{fill}"/>'
        )
        label_y = TOP + 7 + row * 11
        labels.append(_text(band_spans[i][0], label_y, band.label, size=9, extra=' fill="#555"'))
    parts += labels
    _axes(frame, x_label, y_label, y_percent)
    marker_spans = [_fit(frame.px(m.x) + 3, text_width(m.label, 10), right) for m in markers]
    for marker, span, row in zip(markers, marker_spans, label_rows(marker_spans), strict=True):
        x = frame.px(marker.x)
        bottom = frame.height - frame.bottom
        parts.append(
            f'<line class="marker" x1="{x:.1f}" y1="{frame.top}" x2="{x:.1f}" y2="{bottom}" '
            f'stroke="{marker.color}" stroke-width="1.5" stroke-dasharray="2 3"/>'
        )
        label_y = frame.height - frame.bottom - 6 - row * 13
        parts.append(_text(span[0], label_y, marker.label, size=10, extra=f' fill="{marker.color}"'))
    for s in series:
        parts.extend(_polyline(frame, s))
    _legend(parts, frame.width, [(s.name, s.color, s.dashed) for s in series])
    return "\n".join([*_open(title, frame.width, frame.height), *parts, "</svg>"])


def _fit(x0: float, width: float, right: float) -> tuple[float, float]:
    """A label's span from ``x0``, moved left so it ends inside the plot (not under the legend)."""
    start = max(LEFT, min(x0, right - width))
    return start, start + width


def _polyline(frame: _Frame, s: Series) -> list[str]:
    out: list[str] = []
    dash = ' stroke-dasharray="6 4"' if s.dashed else ""
    run: list[str] = []
    segments: list[list[str]] = [run]
    for x, y in s.points:
        if y is None:
            run = []
            segments.append(run)
            continue
        run.append(f"{frame.px(x):.1f},{frame.py(y):.1f}")
        if s.dots:
            out.append(f'<circle cx="{frame.px(x):.1f}" cy="{frame.py(y):.1f}" r="3" fill="{s.color}"/>')
    lines = [
        f'<polyline points="{" ".join(seg)}" fill="none" stroke="{s.color}" stroke-width="2"{dash}/>'
        for seg in segments
        if len(seg) > 1
    ]
    return lines + out


def stacked_bars(
    title: str,
    categories: Sequence[str],
    stacks: Sequence[Stack],
    *,
    y_label: str,
    y_percent: bool = False,
) -> str:
    """Bars per category, each split into the stacks' values, with a legend; ``y_percent``:
    the values are shares (0 to 1) and the axis reads 0–100%."""
    totals = [sum(s.values[i] for s in stacks) for i in range(len(categories))]
    y_hi = 1.0 if y_percent else nice_ceiling(max(totals, default=0.0))
    frame = _Frame(0.0, float(max(len(categories), 1)), 0.0, y_hi)
    slot = frame.px(1.0) - frame.px(0.0)
    centres = [frame.px(float(i)) + slot * 0.5 for i in range(len(categories))]
    spans = [
        (c - text_width(n, 9) / 2, c + text_width(n, 9) / 2) for c, n in zip(centres, categories, strict=True)
    ]
    rows = label_rows(spans)
    # Long phase names take more rows under the bars: the plot keeps its height, the margin grows.
    frame.bottom = max(BOTTOM, 14 + 11 * (max(rows, default=0) + 1))
    frame.height = HEIGHT + frame.bottom - BOTTOM
    parts = frame.parts
    bottom = frame.height - frame.bottom
    for tick in nice_ticks(0.0, y_hi):
        y = frame.py(tick)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{frame.width - RIGHT}" y2="{y:.1f}" stroke="#e3e3e3"/>'
        )
        parts.append(_text(LEFT - 6, y + 4, f"{tick * 100:.0f}%" if y_percent else _fmt(tick), anchor="end"))
    for i, category in enumerate(categories):
        base = 0.0
        x = frame.px(float(i)) + slot * 0.15
        for s in stacks:
            value = s.values[i]
            if value > 0:
                y0, y1 = frame.py(base), frame.py(base + value)
                shown = f"{value * 100:.1f}%" if y_percent else _fmt(value)
                note = f" ({s.notes[i]})" if i < len(s.notes) and s.notes[i] else ""
                parts.append(
                    f'<rect x="{x:.1f}" y="{y1:.1f}" width="{slot * 0.7:.1f}" height="{y0 - y1:.1f}" '
                    f'fill="{s.color}"><title>{escape(f"{category}: {s.name} {shown}{note}")}</title></rect>'
                )
            base += value
        parts.append(_text(centres[i], bottom + 14 + rows[i] * 11, category, anchor="middle", size=9))
    parts.append(f'<line x1="{LEFT}" y1="{bottom}" x2="{frame.width - RIGHT}" y2="{bottom}" stroke="#333"/>')
    parts.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="#333"/>')
    mid = (TOP + bottom) / 2
    parts.append(_text(14, mid, y_label, anchor="middle", extra=f' transform="rotate(-90 14 {mid:.1f})"'))
    # Legend top-down in reverse so it reads in the same order as the layers stack.
    _legend(parts, frame.width, [(s.name, s.color, False) for s in reversed(stacks)])
    return "\n".join([*_open(title, frame.width, frame.height), *parts, "</svg>"])
