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
        item = NavItem("Routing exceptions", "routing:exceptions", "routing-exceptions")
        if item not in NAVIGATION:
            NAVIGATION.insert(1, item)
