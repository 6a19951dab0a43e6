from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        # event handlers, banners, the order page's shop panel and the menu entry (explicit registries)
        from integrations import handlers  # noqa: F401
        from integrations.views import disabled_endpoints_banner, shop_attention_banner, shop_panel
        from oms.dashboard import BANNERS, NAVIGATION, ORDER_PANELS, NavItem

        if shop_panel not in ORDER_PANELS:
            ORDER_PANELS.append(shop_panel)

        for banner in (disabled_endpoints_banner, shop_attention_banner):
            if banner not in BANNERS:
                BANNERS.append(banner)
        item = NavItem("Integrations", "integrations:webhooks", "integrations")
        if item not in NAVIGATION:
            NAVIGATION.append(item)
