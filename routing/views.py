"""The routing panel of the order page: the decision in plain words, and every candidate's verdict."""

from routing.models import RoutingDecision


def routing_panel(order) -> tuple[str, dict] | None:
    decisions = list(RoutingDecision.objects.filter(order=order).select_related("rule_set")[:5])
    if not decisions:
        return None
    return "routing/_order_panel.html", {"latest": decisions[0], "earlier": decisions[1:]}
