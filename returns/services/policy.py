"""What a channel's return policy says: its reason codes, what each unit is worth, which units may still
be returned and until when, whether a request is approved without a person, and where it goes back to."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.db.models import Max, Sum
from django.db.models.functions import Coalesce

from inventory.models import StockPosition, Warehouse
from orders.models import Channel, Order, OrderLine
from orders.validation import currency_precision
from returns.models import ReturnPolicy, ReturnReason, ReturnStatus
from routing.engine import haversine_km
from shipments.models import PackageLine, ShipmentStatus

# The reason codes every channel starts with (the first migration writes them too): code, label,
# merchant's fault (the merchant pays the way back, no fee is kept), needs a note.
DEFAULT_REASONS = [
    ("damaged", "Arrived damaged", True, False),
    ("wrong_item", "Wrong item sent", True, False),
    ("not_as_described", "Not as described", True, False),
    ("changed_mind", "Changed my mind", False, False),
    ("too_small", "Too small", False, False),
    ("too_large", "Too large", False, False),
    ("late", "Arrived too late", False, False),
    ("other", "Other (please say why)", False, True),
]

# Statuses in which a return still claims the units it asked for: before it arrives. From receipt on,
# what came back is counted in the order lines' returned quantities instead.
CLAIMING_STATUSES = (
    ReturnStatus.REQUESTED,
    ReturnStatus.AUTHORISED,
    ReturnStatus.LABEL_ISSUED,
    ReturnStatus.IN_TRANSIT,
)

RECENT_RETURNS_DAYS = 90


def policy_for(channel: Channel) -> ReturnPolicy:
    """The channel's own policy, else the default one, else the built-in defaults (unsaved)."""
    for policy in ReturnPolicy.objects.filter(channel__in=[channel.pk]).select_related("returns_centre"):
        return policy
    default = ReturnPolicy.objects.filter(channel__isnull=True).select_related("returns_centre").first()
    return default or ReturnPolicy()


def _ensure_default_reasons() -> None:
    if not ReturnReason.objects.filter(channel__isnull=True).exists():
        ReturnReason.objects.bulk_create(
            [
                ReturnReason(code=code, label=label, merchant_fault=fault, needs_note=note)
                for code, label, fault, note in DEFAULT_REASONS
            ],
            ignore_conflicts=True,
        )


def reasons_for(channel: Channel) -> list[ReturnReason]:
    """The active reasons a channel offers: its own, and the default ones it has not replaced."""
    _ensure_default_reasons()
    reasons: dict[str, ReturnReason] = {}
    for reason in ReturnReason.objects.filter(channel__isnull=True, is_active=True):
        reasons[reason.code] = reason
    for reason in ReturnReason.objects.filter(channel=channel):
        if reason.is_active:
            reasons[reason.code] = reason
        else:
            reasons.pop(reason.code, None)
    return sorted(reasons.values(), key=lambda r: (r.code == "other", r.label))


# ------------------------------------------------------------------------------------------ amounts


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-(currency_precision(currency) or 0))


def lines_paid(order: Order, lines: Iterable[OrderLine]) -> dict[int, Decimal]:
    """What the customer paid for each whole line, tax included, in the currency's smallest unit.

    The order discount and the tax are shared over the lines in proportion to their value after line
    discounts; the shares are rounded down and the cents left over go to the largest remainders, so that
    the lines add up to exactly what the order charged for its goods (subtotal - discounts + tax)."""
    lines = list(lines)
    step = quantum(order.currency)
    goods = sum((line.total for line in lines), Decimal(0))
    if goods <= 0:
        return {line.pk: Decimal(0) for line in lines}
    charged = max(goods - order.order_discount, Decimal(0)) + order.tax_total
    exact = {line.pk: charged * line.total / goods for line in lines}
    paid = {pk: value.quantize(step, rounding=ROUND_DOWN) for pk, value in exact.items()}
    left = int(
        ((charged.quantize(step, rounding=ROUND_HALF_UP) - sum(paid.values())) / step).to_integral_value()
    )
    by_remainder = sorted(exact, key=lambda pk: (-(exact[pk] - paid[pk]), pk))
    for pk in by_remainder[: max(left, 0)]:
        paid[pk] += step
    return paid


def units_value(paid: Decimal, quantity: int, units_before: int, units: int, currency: str) -> Decimal:
    """What ``units`` of a line are worth after ``units_before`` were already credited: rounded on the
    running total, so that crediting a line in several returns never adds up to more than was paid."""
    if quantity <= 0 or units <= 0:
        return Decimal(0)
    step = quantum(currency)

    def upto(n: int) -> Decimal:
        return (paid * min(n, quantity) / quantity).quantize(step, rounding=ROUND_HALF_UP)

    return upto(units_before + units) - upto(units_before)


# ------------------------------------------------------------------------------------ returnable units


@dataclass
class Returnable:
    """Units of an order line that may still be returned, and why not more."""

    line: OrderLine
    delivered: int
    shipped: int
    returned: int
    requested: int
    delivered_at: datetime | None
    window_closes: datetime | None

    def free(self, *, undelivered: bool = False) -> int:
        base = self.shipped if undelivered else self.delivered
        return max(base - self.returned - self.requested, 0)

    @property
    def choices(self) -> list[int]:
        """0 to the units the customer may still send back, for a select box."""
        return list(range(self.free() + 1))

    @property
    def free_undelivered(self) -> int:
        """What ops may take back: shipped units, delivered or not."""
        return self.free(undelivered=True)

    def in_window(self, now: datetime) -> bool:
        return self.window_closes is not None and now <= self.window_closes


def returnable(
    lines: list[OrderLine], *, window_days: int, exclude_return_id: int | None = None
) -> dict[int, Returnable]:
    """Per order line: delivered, shipped, returned and requested units, and when its window closes
    (``window_days`` after the last delivery of a parcel holding it)."""
    from returns.models import ReturnLine

    ids = [line.pk for line in lines]
    claims = ReturnLine.objects.filter(order_line_id__in=ids, ret__status__in=CLAIMING_STATUSES)
    if exclude_return_id:
        claims = claims.exclude(ret_id=exclude_return_id)
    requested = dict(
        claims.values("order_line_id").annotate(n=Sum("quantity")).values_list("order_line_id", "n")
    )
    delivered_at = dict(
        PackageLine.objects.filter(order_line_id__in=ids, package__shipment__status=ShipmentStatus.DELIVERED)
        .values("order_line_id")
        .annotate(
            at=Coalesce(
                Max("package__shipment__tracking__delivered_at"), Max("package__shipment__updated_at")
            )
        )
        .values_list("order_line_id", "at")
    )
    out = {}
    for line in lines:
        at = delivered_at.get(line.pk)
        out[line.pk] = Returnable(
            line=line,
            delivered=line.qty_delivered,
            shipped=line.qty_shipped,
            returned=line.qty_returned,
            requested=requested.get(line.pk, 0),
            delivered_at=at,
            window_closes=at + timedelta(days=window_days) if at else None,
        )
    return out


def recent_returns(customer_id: int, now: datetime, exclude_return_id: int | None = None) -> int:
    from returns.models import Return

    query = Return.objects.filter(
        customer_id=customer_id, created_at__gte=now - timedelta(days=RECENT_RETURNS_DAYS)
    ).exclude(status=ReturnStatus.CANCELLED)
    if exclude_return_id:
        query = query.exclude(pk=exclude_return_id)
    return query.count()


# --------------------------------------------------------------------------------------- return location


def return_location_choose(
    *, policy: ReturnPolicy, product_ids: set[int], latitude: float | None, longitude: float | None
) -> Warehouse | None:
    """Where the units go back to: the returns centre when the policy says so; otherwise the nearest
    active warehouse that takes returns and stocks every SKU of the return, then the returns centre,
    then the nearest warehouse that takes returns at all."""
    if policy.return_to == "centre" and policy.returns_centre_id:
        return policy.returns_centre
    accepting = list(Warehouse.objects.filter(is_active=True, accepts_returns=True))
    stocking = defaultdict(set)
    for warehouse_id, product_id in StockPosition.objects.filter(
        warehouse__in=accepting, product_id__in=product_ids
    ).values_list("warehouse_id", "product_id"):
        stocking[warehouse_id].add(product_id)

    def nearest(warehouses: list[Warehouse]) -> Warehouse | None:
        if not warehouses:
            return None
        if latitude is None or longitude is None:
            return min(warehouses, key=lambda w: w.code)
        return min(
            warehouses,
            key=lambda w: (haversine_km(latitude, longitude, float(w.latitude), float(w.longitude)), w.code),
        )

    best = nearest([w for w in accepting if stocking[w.pk] >= product_ids])
    return best or policy.returns_centre or nearest(accepting)
