"""How a KPI's figures read: a share in percent, hours, seconds in the unit that fits, a count."""

from decimal import Decimal

from kpis.definitions import Kpi


def display(kpi: Kpi, value: Decimal | None) -> str:
    """A figure as ops read it: a share in percent, hours, seconds in the unit that fits, a count."""
    if value is None:
        return "—"
    if kpi.kind == "rate":
        return f"{value * 100:.1f} %"
    if kpi.unit == "h":
        return f"{value:.1f} h"
    if kpi.unit == "s":
        seconds = float(value)
        if seconds < 120:
            return f"{seconds:.0f} s"
        if seconds < 7200:
            return f"{seconds / 60:.0f} min"
        return f"{seconds / 3600:.1f} h"
    if kpi.unit == "money":
        return f"{value:.2f}"
    if kpi.kind == "count":
        return f"{int(value):,}"
    return f"{value:.1f}"


def axis_words(kpi: Kpi, value: Decimal) -> str:
    """An axis label: as short as the figure allows."""
    if kpi.kind == "rate":
        return f"{value * 100:.0f} %"
    if kpi.unit == "money":
        return f"{value:.0f}"
    text = display(kpi, value)
    return text.replace(".0 ", " ") if text.endswith((" h", " s", " min")) else text
