from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from integrations.views import disabled_endpoints_banner
        from oms.dashboard import BANNERS

        if disabled_endpoints_banner not in BANNERS:
            BANNERS.append(disabled_endpoints_banner)
