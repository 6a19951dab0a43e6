from django.apps import AppConfig


class ReplenishmentConfig(AppConfig):
    name = "replenishment"
    verbose_name = "Replenishment"

    def ready(self) -> None:
        from replenishment import handlers  # noqa: F401 (event handlers, an explicit registry)
