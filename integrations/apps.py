from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        # event handlers, the banner and the menu entry (explicit registries, no signals)
        from integrations import handlers  # noqa: F401
        from integrations.views import disabled_endpoints_banner
        from oms.dashboard import BANNERS, NAVIGATION, NavItem

        if disabled_endpoints_banner not in BANNERS:
            BANNERS.append(disabled_endpoints_banner)
        item = NavItem("Webhooks", "integrations:webhooks", "integrations")
        if item not in NAVIGATION:
            NAVIGATION.append(item)
