from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Customer messages"

    def ready(self) -> None:
        # Event handlers, the dashboard's navigation and the order page's panel (explicit registries).
        from anymail.signals import tracking

        from notifications import handlers  # noqa: F401
        from notifications.views import messages_panel
        from notifications.webhooks import anymail_tracking
        from oms.dashboard import NAVIGATION, ORDER_PANELS, NavItem

        if messages_panel not in ORDER_PANELS:
            ORDER_PANELS.append(messages_panel)
        tracking.connect(anymail_tracking, dispatch_uid="notifications.anymail_tracking")
        # one menu entry: the message list links to the rates (the menu must fit a laptop's width)
        item = NavItem("Messages", "notifications:list", "messages")
        if item not in NAVIGATION:
            NAVIGATION.append(item)
