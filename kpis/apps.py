from django.apps import AppConfig


class KpisConfig(AppConfig):
    name = "kpis"
    verbose_name = "KPIs"

    def ready(self) -> None:
        from kpis import handlers  # noqa: F401 (event handlers, an explicit registry)
        from kpis.views import alert_banner
        from oms.dashboard import BANNERS, NAVIGATION, NavItem

        if alert_banner not in BANNERS:
            BANNERS.append(alert_banner)

        # the landing page after login: first in the menu
        item = NavItem("KPIs", "kpis:home", "kpis")
        if item not in NAVIGATION:
            NAVIGATION.insert(0, item)
