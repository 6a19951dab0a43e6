from django.apps import AppConfig


class ShipmentsConfig(AppConfig):
    name = "shipments"
    verbose_name = "Shipments"

    def ready(self) -> None:
        # Event handlers and the dashboard's navigation (explicit registries, no signals).
        from oms.dashboard import NAVIGATION, ORDER_PANELS, NavItem
        from shipments import handlers  # noqa: F401
        from shipments.views import fulfilment_panel

        if fulfilment_panel not in ORDER_PANELS:
            ORDER_PANELS.append(fulfilment_panel)
        # Routing's cost weight prices candidate warehouses with our carriers' quotes.
        from routing.services import SHIPPING_QUOTERS
        from shipments.quotes import quote_for_routing

        if quote_for_routing not in SHIPPING_QUOTERS:
            SHIPPING_QUOTERS.append(quote_for_routing)

        # The order list's "Print pick lists": lists for the selected orders, printed at once.
        from oms.dashboard import BulkAction, bulk_action_register
        from shipments.views import print_pick_lists_for

        bulk_action_register(BulkAction("pick_lists", "Print pick lists", print_pick_lists_for, order=40))

        item = NavItem("Fulfilment", "shipments:work_queue", "fulfilment")
        if item not in NAVIGATION:
            NAVIGATION.append(item)
