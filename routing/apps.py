from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "routing"
    verbose_name = "Routing"

    def ready(self) -> None:
        # The event handlers and the order page's routing panel (explicit registries, no signals).
        from oms.dashboard import NAVIGATION, ORDER_PANELS, NavItem
        from routing import handlers  # noqa: F401
        from routing.views import routing_panel

        if routing_panel not in ORDER_PANELS:
            ORDER_PANELS.append(routing_panel)
        # Edits of orders give back and re-plan their stock here, in the edit's transaction.
        from orders.services import ORDER_EDITORS
        from routing.services import order_edit

        if order_edit not in ORDER_EDITORS:
            ORDER_EDITORS.append(order_edit)
        # The order list's "Re-route": each selected order routed again with today's stock and rules.
        from oms.dashboard import BulkAction, bulk_action_register
        from orders.services import Actor, orders_act
        from routing.services import order_reroute

        def reroute(order_ids, user, note=""):
            actor = Actor.for_user(user)
            return orders_act(order_ids, lambda pk: order_reroute(order_id=pk, actor=actor))

        bulk_action_register(BulkAction("reroute", "Re-route", reroute, order=30))

        item = NavItem("Routing exceptions", "routing:exceptions", "routing-exceptions")
        if item not in NAVIGATION:
            NAVIGATION.insert(1, item)
