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
        ):
            if item not in NAVIGATION:
                NAVIGATION.append(item)
