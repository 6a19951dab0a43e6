from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "tracking"
    verbose_name = "Tracking"

    def ready(self) -> None:
        # Event handlers, the order page's tracking panel and the navigation (explicit registries).
        from oms.dashboard import NAVIGATION, ORDER_PANELS, NavItem
        from tracking import handlers  # noqa: F401
        from tracking.views import tracking_panel

        if tracking_panel not in ORDER_PANELS:
            ORDER_PANELS.append(tracking_panel)
        # The channel's order detail shows shipments, tracking numbers and the tracking link.
        from orders.api.serializers import ORDER_DELIVERY_PROVIDERS
        from tracking.selectors import order_delivery

        if order_delivery not in ORDER_DELIVERY_PROVIDERS:
            ORDER_DELIVERY_PROVIDERS.append(order_delivery)
        # A carrier's call left unprocessed is said on every page until it is.
        from oms.dashboard import BANNERS
        from tracking.views import carrier_calls_banner

        if carrier_calls_banner not in BANNERS:
            BANNERS.append(carrier_calls_banner)
        item = NavItem("Tracking", "tracking:dashboard", "tracking")
        if item not in NAVIGATION:
            NAVIGATION.append(item)
