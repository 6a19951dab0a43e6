from django.apps import AppConfig


class ReplenishmentConfig(AppConfig):
    name = "replenishment"
    verbose_name = "Replenishment"

    def ready(self) -> None:
        # an order's API detail says when its backordered lines' stock is expected; so does its page
        from oms.dashboard import ORDER_PANELS
        from orders.api.serializers import ORDER_DELIVERY_PROVIDERS
        from replenishment import handlers  # noqa: F401 (event handlers, an explicit registry)
        from replenishment.selectors import order_expected_stock
        from replenishment.views import expected_stock_panel

        if order_expected_stock not in ORDER_DELIVERY_PROVIDERS:
            ORDER_DELIVERY_PROVIDERS.append(order_expected_stock)
        if expected_stock_panel not in ORDER_PANELS:
            ORDER_PANELS.append(expected_stock_panel)
        from oms.dashboard import NAVIGATION, NavItem

        # one menu entry: the queue links to the purchase orders (the menu must fit a laptop's width)
        item = NavItem("Replenishment", "replenishment:suggestions", "replenishment")
        if item not in NAVIGATION:
            NAVIGATION.append(item)
