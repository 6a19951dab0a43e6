from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = "Inventory"

    def ready(self) -> None:
        # Registers the event handlers (an explicit registry, not Django signals).
        from inventory import handlers  # noqa: F401
        from oms.dashboard import NAVIGATION, NavItem

        for item in (
            NavItem("Inventory", "inventory:stock_list", "inventory"),
            NavItem("Stock alerts", "inventory:stock_alerts", "inventory-alerts"),
            NavItem("Transfers", "inventory:transfer_list", "inventory-transfers"),
        ):
            if item not in NAVIGATION:
                NAVIGATION.append(item)
        # The order list's warehouse filter: orders a warehouse serves (it holds or shipped their units).
        from inventory import selectors
        from oms.dashboard import ORDER_LIST_FILTERS, OrderListFilter

        if all(f.name != "warehouse" for f in ORDER_LIST_FILTERS):
            ORDER_LIST_FILTERS.append(
                OrderListFilter(
                    "warehouse", "Warehouse", selectors.warehouse_choices, selectors.orders_served_by
                )
            )
