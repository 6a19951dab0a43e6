"""Trend charts as SVG drawn on the server: no chart library to ship, nothing to run in the browser,
readable at any width (the drawing scales), and each point a link to the orders behind it with the
day's figure as its tooltip."""

import math
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from html import escape

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 600, 160
LEFT, RIGHT, TOP, BOTTOM = 46, 8, 10, 22


def _nice_top(value: float) -> float:
    """A round upper bound for the axis (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5):
        if value <= step * power:
            return step * power
    return 10 * power


def _f(value: float) -> str:
    return f"{value:.1f}"


def trend_svg(
    points: list[tuple[date, Decimal | None]],
    *,
    label: Callable[[Decimal | None], str],
    link: Callable[[date], str],
    bars: bool = False,
    scale: float = 1.0,
    line_at: Decimal | None = None,
    caption: str,
    axis: Callable[[Decimal], str] | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> SafeString:
    """A line (or bars, for counts) of daily values; days without a figure leave a gap. ``scale``
    turns a stored value into the axis's (a share into a percentage); ``line_at`` draws a threshold.
    Numbers are formatted here; every text goes through ``format_html`` and is escaped."""
    values = [float(v) * scale for _, v in points if v is not None]
    reference = float(line_at) * scale if line_at is not None else None
    top = _nice_top(max(values + ([reference] if reference is not None else []), default=0))
    WIDTH, HEIGHT = width, height  # this drawing's size (the module's are the defaults)
    axis = axis or label
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(points), 1)

    def x(i: int) -> float:
        return LEFT + step * (i + 0.5)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    parts = [
        format_html(
            '<svg class="trend" viewBox="0 0 {} {}" role="img" aria-label="{}" '
            'preserveAspectRatio="xMidYMid meet"><title>{}</title>',
            WIDTH,
            HEIGHT,
            caption,
            caption,
        )
    ]
    for fraction in (0, 0.5, 1):
        gy = y(top * fraction)
        parts.append(
            format_html(
                '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>', LEFT, WIDTH - RIGHT, _f(gy), _f(gy)
            )
        )
        parts.append(
            format_html(
                '<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>',
                LEFT - 4,
                _f(gy + 4),
                axis(Decimal(str(top * fraction / scale))),
            )
        )
    if points:
        first_x, last_x = LEFT, WIDTH - RIGHT
        parts.append(
            format_html(
                '<text class="axis" x="{}" y="{}" text-anchor="start">{}</text>',
                first_x,
                HEIGHT - 6,
                points[0][0].strftime("%-d %b"),
            )
        )
        parts.append(
            format_html(
                '<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>',
                last_x,
                HEIGHT - 6,
                points[-1][0].strftime("%-d %b"),
            )
        )
    if reference is not None:
        ry = _f(y(reference))
        parts.append(
            format_html(
                '<line class="threshold" x1="{}" x2="{}" y1="{}" y2="{}"/>', LEFT, WIDTH - RIGHT, ry, ry
            )
        )
    # The points: a year has 365 of each, so they are written with f-strings, every text escaped with
    # html.escape (format_html per point cost 0.1 s on a page of thirteen charts).
    if bars:
        width = max(step * 0.7, 1)
        for i, (day, value) in enumerate(points):
            v = float(value or 0) * scale
            title = escape(f"{day:%a %-d %b}: {label(value)}")
            parts.append(
                f'<a href="{escape(link(day))}"><rect class="bar" x="{_f(x(i) - width / 2)}" y="{_f(y(v))}" '
                f'width="{_f(width)}" height="{_f(max(plot_h - (y(v) - TOP), 0))}">'
                f"<title>{title}</title></rect></a>"
            )
    else:
        runs: list[list[str]] = [[]]
        for i, (_, value) in enumerate(points):
            if value is None:
                runs.append([])
            else:
                runs[-1].append(f"{_f(x(i))},{_f(y(float(value) * scale))}")
        parts.extend(f'<polyline class="line" points="{" ".join(run)}"/>' for run in runs if run)
        for i, (day, value) in enumerate(points):
            if value is None:
                continue
            title = escape(f"{day:%a %-d %b}: {label(value)}")
            parts.append(
                f'<a href="{escape(link(day))}"><circle class="dot" cx="{_f(x(i))}" '
                f'cy="{_f(y(float(value) * scale))}" r="3.5"><title>{title}</title></circle></a>'
            )
    parts.append(mark_safe("</svg>"))
    return mark_safe("".join(str(p) for p in parts))
