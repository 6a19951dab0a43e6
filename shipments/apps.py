from django.apps import AppConfig


class ShipmentsConfig(AppConfig):
    name = "shipments"
    verbose_name = "Shipments"

    def ready(self) -> None:
        # The dashboard's navigation (an explicit registry, no signals).
        from oms.dashboard import NAVIGATION, NavItem

        item = NavItem("Fulfilment", "shipments:work_queue", "fulfilment")
        if item not in NAVIGATION:
            NAVIGATION.append(item)
