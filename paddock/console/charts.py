"""Charts as inline SVG, drawn on the server: no chart library, no script, no CDN.

Each function returns a :class:`Chart`: the SVG markup (every text escaped) and the rows
it was drawn from, which the template also shows as a table for screen readers and for
anyone who wants the numbers. Colours come from classes styled in ``console.css``; the
SVG carries no ``style`` attribute, so the pages' Content-Security-Policy (no inline
styles) holds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 480
FONT = 12


@dataclass(frozen=True)
class Series:
    name: str
    css: str  # class of its bars and legend swatch (bar-1, bar-2, ...)


@dataclass(frozen=True)
class Row:
    label: str
    values: tuple[float | None, ...]  # None: no value (a gap in a line chart)
    note: str = ""  # shown after the bar (e.g. "41% · 12 of 29")


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    series: tuple[Series, ...]
    rows: tuple[Row, ...]
    svg: SafeString
    empty: bool = False
    columns: tuple[str, ...] = field(default=())  # table headings after the label column


def axis_ticks(value: float, *, whole: bool = True) -> list[float]:
    """Tick values from 0 past ``value`` in 2 to 5 round steps (1, 2 or 5 times a power of
    ten; whole numbers only when ``whole``, as for counts)."""
    if value <= 0:
        return [0.0, 1.0]
    rough = value / 4
    power = 10 ** math.floor(math.log10(rough))
    step = next(s * power for s in (1, 2, 5, 10) if rough <= s * power + 1e-9)
    if whole:
        step = max(step, 1.0)
    count = max(math.ceil(value / step - 1e-9), 1)
    return [step * i for i in range(count + 1)]


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _svg(chart_id: str, title: str, width: float, height: float, body: list[str]) -> SafeString:
    return mark_safe(  # noqa: S308 - every text in ``body`` went through escape()
        f'<svg class="chart" viewBox="0 0 {width:g} {height:g}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title" preserveAspectRatio="xMinYMin meet">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, css: str = "", anchor: str = "start") -> str:
    cls = f' class="{css}"' if css else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{cls}>'
            f"{escape(text)}</text>")


def _legend(series: Sequence[Series], y: float) -> list[str]:
    if len(series) < 2:
        return []
    parts, x = [], 0.0
    for item in series:
        parts.append(f'<rect class="{item.css} swatch" x="{x:.1f}" y="{y - 9:.1f}" width="10" '
                     'height="10" rx="2"></rect>')
        parts.append(_text(x + 14, y, item.name, "legend"))
        x += 22 + 7 * len(item.name)
    return parts


def column_chart(chart_id: str, title: str, rows: Sequence[Row], series: Sequence[Series], *,
                 height: float = 190, max_labels: int = 8) -> Chart:
    """Vertical stacked columns, one per row (e.g. one per day), y axis from 0."""
    rows, series = tuple(rows), tuple(series)
    legend_h = 18 if len(series) > 1 else 0
    left, right, top, bottom = 44.0, 8.0, 10.0 + legend_h, 24.0
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    ticks = axis_ticks(max((sum(r.values) for r in rows), default=0))
    peak = ticks[-1]
    body = _legend(series, 12)
    for value in ticks:
        y = top + plot_h - plot_h * value / peak
        body.append(f'<line class="grid" x1="{left:.1f}" x2="{WIDTH - right:.1f}" '
                    f'y1="{y:.1f}" y2="{y:.1f}"></line>')
        body.append(_text(left - 6, y + 4, _number(value), "tick", "end"))
    slot = plot_w / max(len(rows), 1)
    bar = max(min(slot * 0.7, 40), 1)
    every = max(1, math.ceil(len(rows) / max_labels))
    for index, row in enumerate(rows):
        x = left + slot * index + (slot - bar) / 2
        base = top + plot_h
        for value, item in zip(row.values, series, strict=True):
            h = plot_h * value / peak
            if h > 0:
                body.append(f'<rect class="{item.css}" x="{x:.1f}" y="{base - h:.1f}" '
                            f'width="{bar:.1f}" height="{h:.1f}"></rect>')
                base -= h
        if index % every == 0:
            body.append(_text(x + bar / 2, height - 8, row.label, "tick", "middle"))
    empty = not rows or all(not any(r.values) for r in rows)
    return Chart(chart_id, title, series, rows, _svg(chart_id, title, WIDTH, height, body),
                 empty, tuple(s.name for s in series))


def bar_chart(chart_id: str, title: str, rows: Sequence[Row], series: Sequence[Series], *,
              maximum: float | None = None, label_width: float = 170,
              percent: bool = False, whole: bool = True) -> Chart:
    """Horizontal stacked bars, one per row, with each row's ``note`` after its bar.

    ``maximum`` fixes the scale (1.0 for shares and accuracies); ``percent`` prints the
    tick labels as percentages; ``whole`` keeps the ticks of a free scale whole numbers.
    """
    rows, series = tuple(rows), tuple(series)
    legend_h = 18 if len(series) > 1 else 0
    row_h, top, note_w = 26.0, 6.0 + legend_h, 96.0
    height = top + row_h * max(len(rows), 1) + 20
    left = label_width
    plot_w = WIDTH - left - note_w
    if maximum is not None:
        ticks = [0.0, maximum / 2, maximum]
    else:
        ticks = axis_ticks(max((sum(r.values) for r in rows), default=0), whole=whole)
    peak = ticks[-1]
    body = _legend(series, 12)
    for value in ticks:
        x = left + plot_w * value / peak
        body.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{top:.1f}" '
                    f'y2="{height - 18:.1f}"></line>')
        tick = f"{value:.0%}" if percent else _number(value)
        body.append(_text(x, height - 5, tick, "tick", "middle"))
    for index, row in enumerate(rows):
        y = top + row_h * index
        body.append(_text(left - 8, y + row_h / 2 + 4, row.label, "label", "end"))
        x = left
        for value, item in zip(row.values, series, strict=True):
            w = plot_w * min(max(value, 0.0), peak) / peak
            if w > 0:
                body.append(f'<rect class="{item.css}" x="{x:.1f}" y="{y + 5:.1f}" '
                            f'width="{w:.1f}" height="{row_h - 10:.1f}"></rect>')
                x += w
        if row.note:
            body.append(_text(x + 6, y + row_h / 2 + 4, row.note, "note"))
    empty = not rows or all(not any(r.values) for r in rows)
    return Chart(chart_id, title, series, rows, _svg(chart_id, title, WIDTH, height, body),
                 empty, tuple(s.name for s in series))


def _wrapped_legend(series: Sequence[Series], width: float) -> tuple[list[str], float]:
    """Swatches and names, wrapped onto as many lines as they need; returns the parts and
    the height they take."""
    parts, x, y = [], 0.0, 12.0
    for item in series:
        advance = 22 + 7 * len(item.name)
        if x and x + advance > width:
            x, y = 0.0, y + 16
        parts.append(f'<rect class="{item.css} swatch" x="{x:.1f}" y="{y - 9:.1f}" width="10" '
                     'height="10" rx="2"></rect>')
        parts.append(_text(x + 14, y, item.name, "legend"))
        x += advance
    return parts, y + 8


def _short(label: str, limit: int = 16) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "\N{HORIZONTAL ELLIPSIS}"


def line_chart(chart_id: str, title: str, rows: Sequence[Row], series: Sequence[Series], *,
               maximum: float = 1.0, percent: bool = True, reference: float | None = None,
               height: float = 230, max_labels: int = 6) -> Chart:
    """One line per series across the rows (x: one point per row, in order; y: from 0 to
    ``maximum``). A value of None leaves a gap in its line; ``reference`` draws a dashed
    level (chance, 0.5, for an accuracy). Each point carries a ``<title>`` with its value."""
    rows, series = tuple(rows), tuple(series)
    legend, legend_h = _wrapped_legend(series, WIDTH) if len(series) > 1 else ([], 0.0)
    left, right, top, bottom = 44.0, 12.0, 10.0 + legend_h, 24.0
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    body = list(legend)

    def y_of(value: float) -> float:
        return top + plot_h - plot_h * min(max(value, 0.0), maximum) / maximum

    def shown(value: float) -> str:
        return f"{value:.1%}" if percent else _number(value)

    for step in range(5):
        value = maximum * step / 4
        y = y_of(value)
        body.append(f'<line class="grid" x1="{left:.1f}" x2="{WIDTH - right:.1f}" '
                    f'y1="{y:.1f}" y2="{y:.1f}"></line>')
        tick = f"{value:.0%}" if percent else _number(value)
        body.append(_text(left - 6, y + 4, tick, "tick", "end"))
    if reference is not None:
        y = y_of(reference)
        body.append(f'<line class="reference" x1="{left:.1f}" x2="{WIDTH - right:.1f}" '
                    f'y1="{y:.1f}" y2="{y:.1f}"></line>')
    slot = plot_w / max(len(rows), 1)
    xs = [left + slot * (index + 0.5) for index in range(len(rows))]
    every = max(1, math.ceil(len(rows) / max_labels))
    for index, row in enumerate(rows):
        if index % every == 0:
            body.append(_text(xs[index], height - 8, _short(row.label), "tick", "middle"))
    for position, item in enumerate(series):
        runs: list[list[tuple[float, float]]] = [[]]
        points = []
        for index, row in enumerate(rows):
            value = row.values[position] if position < len(row.values) else None
            if value is None:
                runs.append([])
                continue
            point = (xs[index], y_of(value))
            runs[-1].append(point)
            points.append((point, f"{row.label}: {item.name} {shown(value)}"))
        for run in runs:
            if len(run) > 1:
                coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                body.append(f'<polyline class="{item.css}" points="{coords}"></polyline>')
        for (x, y), label in points:
            body.append(f'<circle class="{item.css}" cx="{x:.1f}" cy="{y:.1f}" r="3">'
                        f"<title>{escape(label)}</title></circle>")
    empty = not rows or all(value is None for row in rows for value in row.values)
    return Chart(chart_id, title, series, rows, _svg(chart_id, title, WIDTH, height, body),
                 empty, tuple(s.name for s in series))
