"""The dashboard's shell: who may use it, and the navigation every page shows."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.urls import reverse

OPS_GROUP = "ops"


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    section: str


# Each app adds its pages here, in the order ops work through them.
NAVIGATION: list[NavItem] = [
    NavItem("Orders", "dashboard:order_list", "orders"),
]


# Panels that later apps add to the order page, as functions order -> (template, context) or None;
# the orders app cannot import them (they depend on it), so they register here.
OrderPanel = Callable[[object], tuple[str, dict] | None]
ORDER_PANELS: list[OrderPanel] = []


def order_panels(order) -> list[tuple[str, dict]]:
    return [panel for register in ORDER_PANELS if (panel := register(order)) is not None]


def is_ops(user) -> bool:
    return (
        user.is_authenticated
        and user.is_active
        and (user.is_superuser or user.groups.filter(name=OPS_GROUP).exists())
    )


def ops_required(view: Callable) -> Callable:
    """Logged in (else to the login page) and ops staff or admin (else 403)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not is_ops(request.user):
            raise PermissionDenied("The dashboard is for ops staff.")
        return view(request, *args, **kwargs)

    return wrapper


def navigation(request: HttpRequest) -> dict:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    section = getattr(request, "dashboard_section", "")
    return {
        "nav_items": [
            {"label": item.label, "url": reverse(item.url_name), "active": item.section == section}
            for item in NAVIGATION
        ],
        "is_admin": request.user.is_superuser,
    }
