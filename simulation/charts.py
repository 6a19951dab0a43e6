"""The simulation page's comparison bars, drawn as SVG on the server like the KPI trends: one bar per
variant, the goal as a dashed line, every text escaped."""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from kpis.charts import _nice_top

WIDTH, ROW, LEFT, RIGHT = 560, 26, 170, 70


def bars_svg(
    rows: list[tuple[str, float | None]], *, fmt: str, caption: str, goal: float | None = None
) -> SafeString:
    """Horizontal bars of ``rows`` (label, value; None draws no bar and says so), on an axis from 0
    to a round top above the largest value and the goal."""
    values = [v for _, v in rows if v is not None]
    top = _nice_top(max(values + ([goal] if goal is not None else []), default=0))
    height = ROW * len(rows) + 18
    plot = WIDTH - LEFT - RIGHT

    def x(value: float) -> float:
        return LEFT + plot * value / top

    bars = []
    for index, (label, value) in enumerate(rows):
        y = 4 + index * ROW
        text = "no figure" if value is None else fmt.format(value)
        bars.append(
            (
                LEFT - 6,
                y + 15,
                label,
                LEFT,
                y + 2,
                f"{max(x(value or 0) - LEFT, 0):.1f}",
                f"{x(value or 0) + 4:.1f}",
                y + 15,
                text,
            )
        )
    goal_line = (
        format_html(
            '<line class="threshold" x1="{0}" x2="{0}" y1="0" y2="{1}"/>'
            '<text class="axis" x="{0}" y="{2}" text-anchor="middle">goal {3}</text>',
            f"{x(goal):.1f}",
            height - 14,
            height - 2,
            fmt.format(goal),
        )
        if goal is not None
        else ""
    )
    return format_html(
        '<svg class="trend" viewBox="0 0 {} {}" role="img" aria-label="{}"><title>{}</title>{}{}</svg>',
        WIDTH,
        height,
        caption,
        caption,
        format_html_join(
            "",
            '<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>'
            '<rect class="bar" x="{}" y="{}" width="{}" height="18"/>'
            '<text class="axis" x="{}" y="{}">{}</text>',
            bars,
        ),
        goal_line,
    )
