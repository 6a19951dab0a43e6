from django.apps import AppConfig


class KpisConfig(AppConfig):
    name = "kpis"
    verbose_name = "KPIs"

    def ready(self) -> None:
        from oms.dashboard import NAVIGATION, NavItem

        # the landing page after login: first in the menu
        item = NavItem("KPIs", "kpis:home", "kpis")
        if item not in NAVIGATION:
            NAVIGATION.insert(0, item)
