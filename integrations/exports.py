"""ERP and accounting feeds: invoices (one per shipment handed over), credits (one per return
credited) and stock valuation (one per warehouse and day), read over the API by an integration's
key with a cursor and acknowledged, so that nothing is exported twice or missed.

Entries are written by the events' handlers, once each (``key``: a redelivered event finds its entry
there). A reader never pages by row id: ids are handed out when a transaction inserts, and a
transaction that started earlier may commit later, behind a cursor that has moved on. Instead every
read first stamps the entries not yet stamped with the feed's next sequence numbers, one stamper at a
time (the feed's sequence row is locked); an entry committed late is stamped by a later read, after
everything a reader has seen. The cursor is a sequence number.

An acknowledgement says "I have everything up to here": it only ever moves forward, and acking the
same cursor again changes nothing. A read without ``after`` starts at the key's acknowledgement."""

from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from integrations.models import ExportAck, ExportEntry, ExportFeed, ExportSequence, ProductCost
from oms.errors import ValidationFailed
from orders.models import ApiKey, Order
from orders.selectors import orders_with_lines
from orders.validation import currency_precision
from shipments.selectors import order_shipment_ids, shipment_contents

STAMP_BATCH = 5000
MAX_LIMIT = 1000


def _record(feed: str, key: str, payload: dict) -> bool:
    """The entry, unless it is there already. Returns whether it is new."""
    _, new = ExportEntry.objects.get_or_create(feed=feed, key=key, defaults={"payload": payload})
    return new


def _money(amount: Decimal, places: int) -> str:
    return f"{amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):.{places}f}"


@transaction.atomic
def invoice_record(*, shipment_id: int, order_id: int) -> bool:
    """The invoice of a shipment handed over: its units of each line at the order's prices, the
    line discounts in proportion; the order's shipping and tax on its first invoice."""
    # the order locked: two shipments invoiced at once agree on which one is the first
    Order.objects.select_for_update().filter(pk=order_id).first()
    key = f"shipment:{shipment_id}"
    # The order's invoices so far, by their keys (the feed's unique index): a question about the
    # payload would read every invoice ever written, at each hand-over.
    invoiced = set(
        ExportEntry.objects.filter(
            feed=ExportFeed.INVOICES,
            key__in=[key, *(f"shipment:{pk}" for pk in order_shipment_ids(order_id=order_id))],
        ).values_list("key", flat=True)
    )
    if key in invoiced:
        return False
    order = orders_with_lines().select_related("shipping_address").filter(pk=order_id).first()
    contents = shipment_contents(shipment_id=shipment_id)
    if order is None or contents is None:
        return False
    places = currency_precision(order.currency) or 0
    first = not invoiced
    lines, net = [], Decimal(0)
    for line in order.lines.all():
        units = contents.units.get(line.line_number, 0)
        if not units:
            continue
        discount = line.discount * units / line.quantity if line.quantity else Decimal(0)
        amount = line.unit_price * units - discount
        net += amount
        lines.append(
            {
                "line_number": line.line_number,
                "sku": line.sku,
                "name": line.name,
                "quantity": units,
                "unit_price": _money(line.unit_price, places),
                "discount": _money(discount, places),
                "net": _money(amount, places),
            }
        )
    shipping = order.shipping_total if first else Decimal(0)
    tax = order.tax_total if first else Decimal(0)
    order_discount = order.order_discount if first else Decimal(0)
    address = order.shipping_address
    return _record(
        ExportFeed.INVOICES,
        key,
        {
            "invoice": contents.reference,
            "order_id": order.pk,
            "order_number": order.number,
            "channel": order.channel.code,
            "external_id": order.external_id,
            "currency": order.currency,
            "shipped_at": timezone.now().isoformat(),
            "carrier": contents.carrier,
            "tracking_numbers": contents.tracking_numbers,
            "customer": {
                "name": f"{order.contact_first_name} {order.contact_last_name}".strip(),
                "email": order.contact_email,
            },
            "ship_to": {
                "name": address.name,
                "line1": address.line1,
                "city": address.city,
                "postal_code": address.postal_code,
                "country": address.country,
            },
            "lines": lines,
            "order_discount": _money(order_discount, places),
            "shipping": _money(shipping, places),
            "tax": _money(tax, places),
            "total": _money(net - order_discount + shipping + tax, places),
        },
    )


def credit_record(*, credit_id: int) -> bool:
    """A return's credit, as ``GET /api/v1/credits/`` shows it."""
    from returns.api.serializers import credit_json
    from returns.models import Credit

    credit = (
        Credit.objects.select_related("ret__channel")
        .prefetch_related("lines__order_line")
        .filter(pk=credit_id)
        .first()
    )
    if credit is None:
        return False
    return _record(ExportFeed.CREDITS, f"credit:{credit_id}", credit_json(credit))


def valuation_record(*, day: date) -> int:
    """Each warehouse's stock at the end of ``day`` (the dashboard's time zone), valued at each SKU's
    cost on that day; written once per warehouse and day. SKUs without a cost are listed unvalued."""
    from inventory.models import StockMovement, Warehouse

    zone = timezone.get_current_timezone()
    end = datetime.combine(day + timedelta(days=1), time.min, zone)
    costs: dict[str, ProductCost] = {}
    for cost in ProductCost.objects.filter(valid_from__lte=day).order_by("sku", "valid_from"):
        costs[cost.sku] = cost  # the latest from before or on the day wins
    written = 0
    for warehouse in Warehouse.objects.order_by("code"):
        key = f"valuation:{day.isoformat()}:{warehouse.code}"
        if ExportEntry.objects.filter(feed=ExportFeed.STOCK_VALUATION, key=key).exists():
            continue
        on_hand = (
            StockMovement.objects.filter(position__warehouse=warehouse, created_at__lt=end)
            .values("position__product__sku")
            .annotate(units=Sum("quantity"))
            .order_by("position__product__sku")
        )
        items, totals = [], {}
        for row in on_hand:
            sku, units = row["position__product__sku"], row["units"] or 0
            if not units:
                continue
            cost = costs.get(sku)
            value = cost.unit_cost * units if cost else None
            if cost:
                totals[cost.currency] = totals.get(cost.currency, Decimal(0)) + value
            items.append(
                {
                    "sku": sku,
                    "units": units,
                    "unit_cost": f"{cost.unit_cost:f}" if cost else None,
                    "currency": cost.currency if cost else None,
                    "value": f"{value.quantize(Decimal('0.01')):f}" if cost else None,
                }
            )
        payload = {
            "day": day.isoformat(),
            "warehouse": warehouse.code,
            "items": items,
            "totals": {
                currency: f"{total.quantize(Decimal('0.01')):f}" for currency, total in sorted(totals.items())
            },
            "unvalued_skus": [i["sku"] for i in items if i["unit_cost"] is None],
        }
        written += _record(ExportFeed.STOCK_VALUATION, key, payload)
    return written


def valuation_close(*, now=None) -> int:
    """The beat's job: yesterday's valuation, once it is over (the entries are written once)."""
    today = timezone.localdate(now or timezone.now())
    return valuation_record(day=today - timedelta(days=1))


@transaction.atomic
def _stamp(feed: str) -> int:
    sequence, _ = ExportSequence.objects.get_or_create(feed=feed)
    sequence = ExportSequence.objects.select_for_update().get(pk=sequence.pk)
    unstamped = list(
        ExportEntry.objects.filter(feed=feed, seq__isnull=True)
        .order_by("id")
        .values_list("pk", flat=True)[:STAMP_BATCH]
    )
    if unstamped:
        entries = [ExportEntry(pk=pk, seq=sequence.last_seq + n) for n, pk in enumerate(unstamped, start=1)]
        ExportEntry.objects.bulk_update(entries, ["seq"])
        sequence.last_seq += len(unstamped)
        sequence.save(update_fields=["last_seq"])
    return sequence.last_seq


def _cursor(value: object, field: str) -> int:
    text = str(value if value is not None else "").strip()
    if not text.isdigit() or len(text) > 18:
        raise ValidationFailed(
            "Bad cursor.", details={field: ["A cursor from this feed: `next_cursor` as given."]}
        )
    return int(text)


def export_read(*, api_key: ApiKey, feed: str, after: str | None = None, limit: int = 100) -> dict:
    """The feed's entries after ``after`` (or after the key's acknowledgement), in order."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed("Bad limit.", details={"limit": [f"A whole number from 1 to {MAX_LIMIT}."]})
    last = _stamp(feed)
    if after is None:
        ack = ExportAck.objects.filter(api_key=api_key, feed=feed).first()
        start = ack.acked_seq if ack else 0
    else:
        start = _cursor(after, "after")
    rows = list(
        ExportEntry.objects.filter(feed=feed, seq__gt=start)
        .order_by("seq")
        .values("seq", "key", "created_at", "payload")[:limit]
    )
    next_cursor = rows[-1]["seq"] if rows else start
    return {
        "entries": [
            {
                "cursor": str(r["seq"]),
                "key": r["key"],
                "recorded_at": r["created_at"].isoformat(),
                **r["payload"],
            }
            for r in rows
        ],
        "next_cursor": str(next_cursor),
        "has_more": next_cursor < last,
    }


@transaction.atomic
def export_ack(*, api_key: ApiKey, feed: str, cursor: str) -> str:
    """Everything up to ``cursor`` is taken. Only moves forward; the same ack twice is the same."""
    seq = _cursor(cursor, "cursor")
    last = ExportSequence.objects.filter(feed=feed).values_list("last_seq", flat=True).first() or 0
    if seq > last:
        raise ValidationFailed(
            "That cursor was never given out.",
            details={"cursor": [f"At most {last}, the feed's last cursor."]},
        )
    ack, _ = ExportAck.objects.get_or_create(api_key=api_key, feed=feed)
    ack = ExportAck.objects.select_for_update().get(pk=ack.pk)
    if seq > ack.acked_seq:
        ack.acked_seq = seq
        ack.save(update_fields=["acked_seq", "acked_at"])
    return str(ack.acked_seq)
