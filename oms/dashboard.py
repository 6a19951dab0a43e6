"""The dashboard's shell: who may use it, and the navigation every page shows."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import cached_property

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


# What every dashboard page says at its top, from later apps: functions request -> (text, url) or
# None (the KPI app's open alerts). Each costs a query per page view: keep them to an index.
Banner = Callable[[HttpRequest], tuple[str, str] | None]
BANNERS: list[Banner] = []


# Panels that later apps add to the order page, as functions order -> (template, context) or None;
# the orders app cannot import them (they depend on it), so they register here.
OrderPanel = Callable[[object], tuple[str, dict] | None]
ORDER_PANELS: list[OrderPanel] = []


def order_panels(order) -> list[tuple[str, dict]]:
    return [panel for register in ORDER_PANELS if (panel := register(order)) is not None]


@dataclass(frozen=True)
class OrderListFilter:
    """A filter later apps add to the order list (the warehouse that serves an order is inventory's
    knowledge): its query parameter, label, choices, and how it narrows the orders."""

    name: str
    label: str
    choices: Callable[[], list[tuple[str, str]]]
    apply: Callable[[object, str], object]


ORDER_LIST_FILTERS: list[OrderListFilter] = []


@dataclass(frozen=True)
class BulkAction:
    """What ops can do to several selected orders at once. ``run(order_ids, user, note)`` acts on each
    order in its own transaction and returns (orders done, one line per order refused, with why)."""

    name: str
    label: str
    run: Callable[..., tuple[int, list[str]]]
    note_label: str = ""  # when the action needs a reason from ops, what to ask for
    order: int = 50  # position in the menu


ORDER_BULK_ACTIONS: list[BulkAction] = []


def bulk_action_register(action: BulkAction) -> None:
    if all(existing.name != action.name for existing in ORDER_BULK_ACTIONS):
        ORDER_BULK_ACTIONS.append(action)
        ORDER_BULK_ACTIONS.sort(key=lambda a: a.order)


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
        "banners": [banner for show in BANNERS if (banner := show(request)) is not None],
    }


class CappedPaginator(Paginator):
    """Pages that say where you are without counting a million rows on every view: up to ``cap``
    rows are counted (one bounded query), beyond that the page says "page 3 of 200+" and ops narrow
    the filters. ``capped`` tells the template which it is."""

    cap = 10_000

    @cached_property
    def count(self) -> int:
        query = self.object_list
        if hasattr(query, "values_list"):
            # COUNT over at most cap + 1 rows: bounded whatever the table's size
            return query.order_by()[: self.cap + 1].count()
        return len(query)

    @property
    def capped(self) -> bool:
        return self.count > self.cap

    def page(self, number):
        """A later page as a deferred join: first the keys of its rows alone (an index-only walk
        past the earlier pages' entries), then the page's rows with their joins. OFFSET over the full
        query joins every skipped row before dropping it: page 200 of the order list took 143 ms that
        way, 1.4 ms for its keys this way."""
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        rows = self.object_list
        if not bottom or not hasattr(rows, "values_list"):
            return super().page(number)
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        keys = list(rows.values_list("pk", flat=True)[bottom:top])
        # unordered: an ORDER BY on the fetch could walk the sort's index looking for these keys
        by_key = {row.pk: row for row in rows.order_by().filter(pk__in=keys)}
        return self._get_page([by_key[key] for key in keys if key in by_key], number, self)


def page_of(request: HttpRequest, rows, *, per_page: int | None = None):
    """The requested page of ``rows`` (a bad page number gives the nearest page)."""
    from django.conf import settings

    paginator = CappedPaginator(rows, per_page or settings.DASHBOARD_PAGE_SIZE)
    return paginator.get_page(request.GET.get("page"))
