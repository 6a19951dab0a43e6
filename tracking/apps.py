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
        item = NavItem("Tracking", "tracking:dashboard", "tracking")
        if item not in NAVIGATION:
            NAVIGATION.append(item)
