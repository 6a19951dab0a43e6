from django.apps import AppConfig


class ReturnsConfig(AppConfig):
    name = "returns"
    verbose_name = "Returns"

    def ready(self) -> None:
        # Event handlers, the dashboard's navigation and the order page's panel (explicit registries,
        # no signals).
        from oms.dashboard import NAVIGATION, ORDER_PANELS, NavItem
        from returns import handlers  # noqa: F401
        from returns.views import returns_panel

        if returns_panel not in ORDER_PANELS:
            ORDER_PANELS.append(returns_panel)
        # The customer's tracking page offers to send delivered items back.
        from returns.public import tracking_page_section
        from tracking.views import TRACKING_PAGE_SECTIONS

        if tracking_page_section not in TRACKING_PAGE_SECTIONS:
            TRACKING_PAGE_SECTIONS.append(tracking_page_section)
        for item in (
            NavItem("Returns", "returns:list", "returns"),
            NavItem("Return rates", "returns:rates", "returns-rates"),
        ):
            if item not in NAVIGATION:
                NAVIGATION.append(item)
