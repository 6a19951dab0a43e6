"""A year of a busy merchant, for benchmarks at a real size:

    manage.py seed_scale --orders 1000000 --skus 100000 --warehouses 50 [--seed 20261203]

On PostgreSQL (COPY), into a database without orders: four channels, warehouses over Greece and
Europe, SKUs stocked in five warehouses each with their opening ledger rows, customers (one for every
three orders), and orders placed over the past year with their lines, shipping addresses and history
rows, in a realistic mix of statuses (mostly delivered; shipped, cancelled, backordered, received,
on hold), every figure consistent with its status (shipped and delivered units, cancelled units).
The same seed gives the same data. Open orders hold no stock: none is allocated, so the ledger and
the positions agree. A progress line per step; minutes on two cores.
"""

import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from inventory.models import Warehouse
from orders import services
from orders.models import Channel, ChannelKind, Order, OrderStatus
from shipments.models import Carrier, CarrierService

# share of orders per status: a year's orders are mostly delivered
STATUS_MIX = [
    (OrderStatus.DELIVERED, 0.76),
    (OrderStatus.SHIPPED, 0.10),
    (OrderStatus.CANCELLED, 0.06),
    (OrderStatus.BACKORDERED, 0.04),
    (OrderStatus.RECEIVED, 0.02),
    (OrderStatus.ON_HOLD, 0.02),
]
# the status path each final status took, after "received"
PATHS = {
    OrderStatus.DELIVERED: [
        OrderStatus.ALLOCATED,
        OrderStatus.IN_FULFILLMENT,
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
    ],
    OrderStatus.SHIPPED: [OrderStatus.ALLOCATED, OrderStatus.IN_FULFILLMENT, OrderStatus.SHIPPED],
    OrderStatus.CANCELLED: [OrderStatus.CANCELLED],
    OrderStatus.BACKORDERED: [OrderStatus.BACKORDERED],
    OrderStatus.RECEIVED: [],
    OrderStatus.ON_HOLD: [OrderStatus.ON_HOLD],
}
CHANNELS = [
    ("scale-web", "Web shop", ChannelKind.WEB),
    ("scale-marketplace", "Marketplace", ChannelKind.MARKETPLACE),
    ("scale-store", "Stores", ChannelKind.STORE),
    ("scale-app", "Mobile app", ChannelKind.APP),
]
CITIES = [
    ("Athens", "104 34", "GR", 37.98, 23.73),
    ("Thessaloniki", "546 27", "GR", 40.64, 22.94),
    ("Patras", "262 21", "GR", 38.25, 21.73),
    ("Heraklion", "712 02", "GR", 35.34, 25.13),
    ("Berlin", "10115", "DE", 52.52, 13.40),
    ("Milan", "20121", "IT", 45.46, 9.19),
    ("Lyon", "69001", "FR", 45.76, 4.84),
]
FIRST = ["Maria", "Giorgos", "Eleni", "Nikos", "Anna", "Kostas", "Sofia", "Jonas", "Lena", "Marco"]
LAST = ["Papadopoulou", "Nikolaou", "Georgiou", "Ioannou", "Schmidt", "Rossi", "Martin", "Dimitriou"]


@dataclass(frozen=True)
class PlannedOrder:
    status: str
    placed_days_ago: float
    channel: int
    customer: int
    city: int
    lines: tuple[tuple[int, int, int], ...]  # (sku index, quantity, unit price in cents)


def plan_orders(*, seed: int, orders: int, skus: int, customers: int) -> list[PlannedOrder]:
    """The orders to write, from the seed alone (the same seed, the same orders). SKUs are drawn
    with a long tail: a few sell often, most rarely."""
    rng = random.Random(seed)
    statuses = [status for status, _ in STATUS_MIX]
    weights = [share for _, share in STATUS_MIX]
    plan = []
    for _ in range(orders):
        lines = []
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            sku = min(int(rng.paretovariate(1.2)) - 1, skus - 1)
            if rng.random() < 0.7:  # most of the catalogue still sells now and then
                sku = rng.randrange(skus)
            if all(sku != existing for existing, _, _ in lines):
                lines.append((sku, rng.randint(1, 3), 500 + (sku * 37) % 9500))
        plan.append(
            PlannedOrder(
                status=rng.choices(statuses, weights)[0],
                placed_days_ago=rng.uniform(0, 365),
                channel=rng.randrange(len(CHANNELS)),
                customer=rng.randrange(customers),
                city=rng.randrange(len(CITIES)),
                lines=tuple(lines),
            )
        )
    return plan


class Progress:
    """One line per step, rewritten in place as the percentage grows."""

    def __init__(self, out, label: str, total: int):
        self.out, self.label, self.total, self.done, self.shown = out, label, max(total, 1), 0, -1
        self.started = time.perf_counter()

    def step(self, n: int = 1) -> None:
        self.done += n
        percent = self.done * 100 // self.total
        if percent != self.shown:
            self.shown = percent
            self.out.write(f"\r  {self.label}: {percent:3d} %", ending="")
            self.out.flush()

    def close(self) -> None:
        self.out.write(f"\r  {self.label}: {self.done:,} in {time.perf_counter() - self.started:.1f} s")


def _copy(table: str, columns: list[str], rows, progress: Progress | None = None) -> None:
    with (
        connection.connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
            if progress:
                progress.step()


def _next_id(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")
        return cursor.fetchone()[0]


def _move_sequence(table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
        )


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=1_000_000)
        parser.add_argument("--skus", type=int, default=100_000)
        parser.add_argument("--warehouses", type=int, default=50)
        parser.add_argument("--seed", type=int, default=20261203)

    def handle(self, *args, orders: int, skus: int, warehouses: int, seed: int, **options):
        if connection.vendor != "postgresql":
            raise CommandError("seed_scale writes with PostgreSQL's COPY: point DATABASE_URL at PostgreSQL.")
        if orders < 1 or skus < 1 or warehouses < 5:
            raise CommandError("Give at least one order, one SKU and five warehouses.")
        if Order.objects.exists():
            raise CommandError("The database has orders already; seed_scale fills an empty one.")
        out = self.stdout
        started = time.perf_counter()
        customers = max(orders // 3, 1)
        plan = plan_orders(seed=seed, orders=orders, skus=skus, customers=customers)
        with transaction.atomic():
            self._write(plan, seed=seed, skus=skus, warehouses=warehouses, customers=customers, out=out)
        # A year of orders has been through autovacuum many times: its visibility map is set, so counts
        # and lists read indexes alone. Rows fresh from COPY have none yet (the order list's status
        # counts took 74 ms instead of 6 ms); VACUUM sets it, ANALYZE gives the planner the figures.
        # VACUUM cannot run in a transaction: after the atomic block, and only ANALYZE when the caller
        # holds one open (a test's).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)")
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {orders:,} orders, {skus:,} SKUs, {warehouses} warehouses in "
                f"{time.perf_counter() - started:.0f} s."
            )
        )

    def _write(self, plan, *, seed: int, skus: int, warehouses: int, customers: int, out) -> None:
        rng = random.Random(seed + 1)
        now = timezone.now()
        channel_ids = []
        for code, name, kind in CHANNELS:
            channel = Channel.objects.filter(code=code).first() or services.channel_create(
                code=code, name=name, kind=kind
            )
            channel_ids.append(channel.pk)
        houses = Warehouse.objects.bulk_create(
            [
                Warehouse(
                    code=f"SC{n:02d}",
                    name=f"Scale {n}",
                    line1="Industrial zone",
                    city=CITIES[n % len(CITIES)][0],
                    country=CITIES[n % len(CITIES)][2],
                    latitude=Decimal(f"{CITIES[n % len(CITIES)][3] + rng.uniform(-1, 1):.4f}"),
                    longitude=Decimal(f"{CITIES[n % len(CITIES)][4] + rng.uniform(-1, 1):.4f}"),
                )
                for n in range(warehouses)
            ]
        )
        first_product = _next_id("orders_product")
        progress = Progress(out, "products", skus)
        _copy(
            "orders_product",
            ["id", "sku", "name", "is_active", "created_at", "updated_at", "lot_tracked"],
            ((first_product + n, f"SC-{n:06d}", f"Product {n}", True, now, now, False) for n in range(skus)),
            progress,
        )
        progress.close()
        _move_sequence("orders_product")
        self._stock(rng, houses, first_product, skus, now, out)
        first_customer = _next_id("orders_customer")
        progress = Progress(out, "customers", customers)
        _copy(
            "orders_customer",
            ["id", "email", "first_name", "last_name", "created_at", "updated_at"],
            (
                (
                    first_customer + n,
                    f"c{n}@scale.example",
                    FIRST[n % len(FIRST)],
                    LAST[n % len(LAST)],
                    now,
                    now,
                )
                for n in range(customers)
            ),
            progress,
        )
        progress.close()
        _move_sequence("orders_customer")
        first_order = _next_id("orders_order")
        self._orders(plan, channel_ids, first_customer, first_product, now, out)
        self._deliveries(rng, plan, first_order, houses, now, out)

    def _deliveries(self, rng, plan, first_order: int, houses, now: datetime, out) -> None:
        """What routing, the carriers and tracking left behind: a routing decision per routed order,
        and for every shipped or delivered order its shipment from one warehouse, the carrier's
        events (a failed first attempt now and then), the tracking state and the first ETA. Routed 2 h
        after placing and shipped at 6 h, as the order's history says; the carrier delivers at 8 h,
        or for one in fourteen days later, past the promised day (the order's history keeps 8 h)."""
        carriers = []
        for code, name in (
            ("scale-post", "Scale Post"),
            ("scale-express", "Scale Express"),
            ("scale-freight", "Scale Freight"),
        ):
            carrier = Carrier.objects.create(code=code, name=name, adapter="sandbox")
            carriers.append(CarrierService.objects.create(carrier=carrier, code="standard", name="Standard"))
        routed = [
            (n, p)
            for n, p in enumerate(plan)
            if p.status in (OrderStatus.DELIVERED, OrderStatus.SHIPPED, OrderStatus.BACKORDERED)
        ]
        progress = Progress(out, "routing decisions", len(routed))
        _copy(
            "routing_routingdecision",
            [
                "order_id",
                "outcome",
                "attempts",
                "plan",
                "reserved",
                "backordered",
                "trace",
                "alerts",
                "duration_ms",
                "created_at",
            ],
            (
                (
                    first_order + n,
                    "backordered" if p.status == OrderStatus.BACKORDERED else "allocated",
                    1,
                    "[]",
                    "{}",
                    "{}",
                    "[]",
                    "[]",
                    1.0,
                    min(now - timedelta(days=p.placed_days_ago) + timedelta(hours=2), now),
                )
                for n, p in routed
            ),
            progress,
        )
        progress.close()
        shipped = [
            (n, p) for n, p in enumerate(plan) if p.status in (OrderStatus.DELIVERED, OrderStatus.SHIPPED)
        ]
        first_shipment = _next_id("shipments_shipment")
        facts = []  # (shipment id, order number, shipped, delivered or None, promised, late, attempted)
        for k, (n, p) in enumerate(shipped):
            placed = now - timedelta(days=p.placed_days_ago)
            at_door = p.status == OrderStatus.DELIVERED
            late = at_door and rng.random() < 0.07
            delivered = placed + (timedelta(days=rng.uniform(3.5, 6)) if late else timedelta(hours=8))
            facts.append(
                (
                    first_shipment + k,
                    n,
                    min(placed + timedelta(hours=6), now),
                    min(delivered, now) if at_door else None,
                    timezone.localdate(placed + timedelta(days=3)),
                    rng.random() < 0.08,
                    rng.randrange(len(carriers)),
                    houses[(n * 7) % len(houses)].pk,
                )
            )
        progress = Progress(out, "shipments", len(facts))
        _copy(
            "shipments_shipment",
            [
                "id",
                "order_id",
                "direction",
                "warehouse_id",
                "service_id",
                "status",
                "tracking_number",
                "cost",
                "currency",
                "label_error",
                "shipped_at",
                "created_at",
                "updated_at",
            ],
            (
                (
                    sid,
                    first_order + n,
                    "outbound",
                    house,
                    carriers[c].pk,
                    "delivered" if done else "shipped",
                    f"SC{sid:010d}",
                    Decimal(350 + sid % 400) / 100,
                    "EUR",
                    "",
                    shipped_at,
                    shipped_at,
                    done or shipped_at,
                )
                for sid, n, shipped_at, done, _, _, c, house in facts
            ),
            progress,
        )
        progress.close()
        _move_sequence("shipments_shipment")
        progress = Progress(out, "tracking states", len(facts))
        _copy(
            "tracking_trackingstate",
            [
                "shipment_id",
                "milestone",
                "milestone_at",
                "incident",
                "last_event_at",
                "last_received_at",
                "poll_failures",
                "promised_date",
                "delivered_at",
                "delay_reported",
                "is_active",
            ],
            (
                (
                    sid,
                    "delivered" if done else "in_transit",
                    done or shipped_at + timedelta(hours=1),
                    "",
                    done or shipped_at + timedelta(hours=1),
                    done or shipped_at + timedelta(hours=1),
                    0,
                    promised,
                    done,
                    False,
                    done is None,
                )
                for sid, _, shipped_at, done, promised, _, _, _ in facts
            ),
            progress,
        )
        progress.close()

        def events():
            for sid, _, shipped_at, done, _, attempted, _, _ in facts:
                scans = [
                    ("SBX-PU", "picked_up", shipped_at + timedelta(minutes=30)),
                    ("SBX-IT", "in_transit", shipped_at + timedelta(hours=1)),
                ]
                if done and attempted:
                    scans.append(("SBX-NH", "attempted_delivery", done - timedelta(hours=20)))
                if done:
                    scans.append(("SBX-DL", "delivered", done))
                for code, milestone, occurred in scans:
                    lag = timedelta(seconds=30 + (sid * 7919 + len(code)) % 3600)
                    received = max(min(occurred + lag, now), occurred)
                    yield (
                        sid,
                        f"SC{sid:010d}",
                        code,
                        "",
                        "",
                        occurred,
                        received,
                        milestone,
                        "",
                        "webhook",
                        f"{sid}-{code}",
                    )

        progress = Progress(out, "tracking events", sum(2 + (f[3] is not None) * (1 + f[5]) for f in facts))
        _copy(
            "tracking_trackingevent",
            [
                "shipment_id",
                "tracking_number",
                "carrier_code",
                "description",
                "location",
                "occurred_at",
                "received_at",
                "milestone",
                "incident",
                "source",
                "dedupe_key",
            ],
            events(),
            progress,
        )
        progress.close()
        progress = Progress(out, "ETA predictions", len(facts))
        _copy(
            "tracking_etaprediction",
            [
                "shipment_id",
                "made_at",
                "milestone",
                "predicted_date",
                "earliest",
                "latest",
                "basis",
                "actual_date",
                "error_days",
                "inside_window",
            ],
            (
                (
                    sid,
                    shipped_at,
                    "label_created",
                    timezone.localdate(shipped_at) + timedelta(days=1),
                    timezone.localdate(shipped_at),
                    timezone.localdate(shipped_at) + timedelta(days=2),
                    "seed_scale",
                    timezone.localdate(done) if done else None,
                    (timezone.localdate(done) - timezone.localdate(shipped_at) - timedelta(days=1)).days
                    if done
                    else None,
                    (timezone.localdate(done) - timezone.localdate(shipped_at)).days <= 2 if done else None,
                )
                for sid, _, shipped_at, done, _, _, _, _ in facts
            ),
            progress,
        )
        progress.close()

    def _stock(self, rng, houses, first_product: int, skus: int, now: datetime, out) -> None:
        """Each SKU in five warehouses, with its opening ledger row (on hand is its ledger's sum)."""
        first_position = _next_id("inventory_stockposition")
        positions = []
        for n in range(skus):
            for house in rng.sample(houses, 5):
                positions.append(
                    (first_position + len(positions), rng.randint(0, 400), first_product + n, house.pk)
                )
        progress = Progress(out, "stock positions", 2 * len(positions))
        _copy(
            "inventory_stockposition",
            [
                "id",
                "on_hand",
                "allocated",
                "in_transit",
                "safety_stock",
                "updated_at",
                "product_id",
                "warehouse_id",
            ],
            ((pk, on_hand, 0, 0, 0, now, product, house) for pk, on_hand, product, house in positions),
            progress,
        )
        _copy(
            "inventory_stockmovement",
            [
                "kind",
                "quantity",
                "allocated_delta",
                "in_transit_delta",
                "reason",
                "reference",
                "reference_type",
                "actor",
                "created_at",
                "position_id",
            ],
            (
                (
                    "receipt",
                    on_hand,
                    0,
                    0,
                    "opening stock",
                    "",
                    "opening",
                    "seed_scale",
                    now - timedelta(days=366),
                    pk,
                )
                for pk, on_hand, _, _ in positions
            ),
            progress,
        )
        progress.close()
        _move_sequence("inventory_stockposition")

    def _orders(self, plan, channel_ids, first_customer: int, first_product: int, now: datetime, out) -> None:
        first_order = _next_id("orders_order")
        first_address = _next_id("orders_address")
        progress = Progress(out, "addresses", len(plan))
        _copy(
            "orders_address",
            [
                "id",
                "name",
                "company",
                "line1",
                "line2",
                "city",
                "city_area",
                "region",
                "postal_code",
                "country",
                "phone",
                "latitude",
                "longitude",
                "coordinates_source",
            ],
            (
                (
                    first_address + n,
                    f"{FIRST[p.customer % len(FIRST)]} {LAST[p.customer % len(LAST)]}",
                    "",
                    f"Odos {n % 200 + 1}",
                    "",
                    CITIES[p.city][0],
                    "",
                    "",
                    CITIES[p.city][1],
                    CITIES[p.city][2],
                    "",
                    Decimal(str(CITIES[p.city][3])),
                    Decimal(str(CITIES[p.city][4])),
                    "city",
                )
                for n, p in enumerate(plan)
            ),
            progress,
        )
        progress.close()
        _move_sequence("orders_address")

        def order_rows():
            for n, p in enumerate(plan):
                placed = now - timedelta(days=p.placed_days_ago)
                subtotal = Decimal(sum(q * cents for _, q, cents in p.lines)) / 100
                yield (
                    first_order + n,
                    f"SC-{n:07d}",
                    p.status,
                    "payment_pending" if p.status == OrderStatus.ON_HOLD else "",
                    "EUR",
                    subtotal,
                    Decimal(0),
                    Decimal(0),
                    Decimal("4.90"),
                    Decimal(0),
                    subtotal + Decimal("4.90"),
                    "standard",
                    "pending" if p.status == OrderStatus.ON_HOLD else "paid",
                    placed,
                    placed,
                    min(placed + timedelta(hours=2 * len(PATHS[p.status])), now),
                    channel_ids[p.channel],
                    first_customer + p.customer,
                    first_address + n,
                    "",
                    f"c{p.customer}@scale.example",
                    FIRST[p.customer % len(FIRST)],
                    LAST[p.customer % len(LAST)],
                    "",
                )

        progress = Progress(out, "orders", len(plan))
        _copy(
            "orders_order",
            [
                "id",
                "external_id",
                "status",
                "hold_reason",
                "currency",
                "subtotal",
                "discount_total",
                "order_discount",
                "shipping_total",
                "tax_total",
                "total",
                "service_level",
                "payment_status",
                "placed_at",
                "created_at",
                "updated_at",
                "channel_id",
                "customer_id",
                "shipping_address_id",
                "pickup_location",
                "contact_email",
                "contact_first_name",
                "contact_last_name",
                "language",
            ],
            order_rows(),
            progress,
        )
        progress.close()
        _move_sequence("orders_order")

        def line_rows():
            for n, p in enumerate(plan):
                done = {OrderStatus.DELIVERED: 4, OrderStatus.SHIPPED: 3}.get(p.status, 0)
                for number, (sku, quantity, cents) in enumerate(p.lines, start=1):
                    moved = quantity if done else 0
                    yield (
                        first_order + n,
                        number,
                        f"SC-{sku:06d}",
                        f"Product {sku}",
                        quantity,
                        Decimal(cents) / 100,
                        Decimal(0),
                        Decimal(quantity * cents) / 100,
                        moved,
                        moved,
                        moved,
                        quantity if done == 4 else 0,
                        0,
                        quantity if p.status == OrderStatus.CANCELLED else 0,
                        first_product + sku,
                    )

        progress = Progress(out, "order lines", sum(len(p.lines) for p in plan))
        _copy(
            "orders_orderline",
            [
                "order_id",
                "line_number",
                "sku",
                "name",
                "quantity",
                "unit_price",
                "discount",
                "total",
                "qty_allocated",
                "qty_picked",
                "qty_shipped",
                "qty_delivered",
                "qty_returned",
                "qty_cancelled",
                "product_id",
            ],
            line_rows(),
            progress,
        )
        progress.close()

        def event_rows():
            for n, p in enumerate(plan):
                placed = now - timedelta(days=p.placed_days_ago)
                order_id = first_order + n
                yield (
                    order_id,
                    "created",
                    "",
                    "received",
                    "channel",
                    CHANNELS[p.channel][0] + " key",
                    "",
                    placed,
                )
                before = OrderStatus.RECEIVED
                for step, status in enumerate(PATHS[p.status], start=1):
                    yield (
                        order_id,
                        "status_changed",
                        before,
                        status,
                        "system",
                        "seed_scale",
                        "",
                        min(placed + timedelta(hours=2 * step), now),
                    )
                    before = status

        progress = Progress(out, "history rows", sum(1 + len(PATHS[p.status]) for p in plan))
        _copy(
            "orders_orderevent",
            [
                "order_id",
                "kind",
                "from_status",
                "to_status",
                "actor_type",
                "actor_label",
                "note",
                "created_at",
            ],
            event_rows(),
            progress,
        )
        progress.close()
