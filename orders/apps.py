from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        # The order list's bulk actions that orders itself can do (later apps add theirs).
        from oms.dashboard import BulkAction, bulk_action_register
        from orders import services

        def as_user(run):
            return lambda order_ids, user, note: run(
                order_ids=order_ids, actor=services.Actor.for_user(user), note=note
            )

        bulk_action_register(
            BulkAction("hold", "Put on hold", as_user(services.orders_hold), "Why", order=10)
        )
        bulk_action_register(
            BulkAction("release", "Release hold", as_user(services.orders_release), order=20)
        )
        bulk_action_register(
            BulkAction("cancel", "Cancel", as_user(services.orders_cancel), "Reason", order=90)
        )
