from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        # event handlers, the banner and the menu entry (explicit registries, no signals)
        from integrations import handlers  # noqa: F401
        from integrations.views import disabled_endpoints_banner, shop_attention_banner
        from oms.dashboard import BANNERS, NAVIGATION, NavItem

        for banner in (disabled_endpoints_banner, shop_attention_banner):
            if banner not in BANNERS:
                BANNERS.append(banner)
        item = NavItem("Webhooks", "integrations:webhooks", "integrations")
        if item not in NAVIGATION:
            NAVIGATION.append(item)
