"""Replenishment on the dashboard: the order page's panel of waiting lines and their expected stock."""

from replenishment.selectors import order_expected_stock


def expected_stock_panel(order) -> tuple[str, dict] | None:
    expected = order_expected_stock(order)["expected_stock"]
    if not expected:
        return None
    return "replenishment/_order_panel.html", {"expected": expected}
