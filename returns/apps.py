from django.apps import AppConfig


class ReturnsConfig(AppConfig):
    name = "returns"
    verbose_name = "Returns"

    def ready(self) -> None:
        # Registers the event handlers (an explicit registry, not Django signals).
        from returns import handlers  # noqa: F401
