from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = "Inventory"

    def ready(self) -> None:
        # Registers the event handlers (an explicit registry, not Django signals).
        from inventory import handlers  # noqa: F401
