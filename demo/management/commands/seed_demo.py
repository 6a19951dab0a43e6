"""Demo data for the embedded OMS: channels, warehouses, products with stock, a few dozen orders in
different states, returns in several states, an ops user and an admin. Does nothing when the database
already has channels."""

import json
import random
from datetime import time, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group, Permission, User
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from inventory import selectors as inventory_selectors
from inventory import services as stock
from inventory.models import ReferenceType, Warehouse
from notifications.models import ChannelMessaging
from oms.dashboard import OPS_GROUP
from orders import services
from orders.models import (
    Address,
    Channel,
    ChannelKind,
    Customer,
    HoldReason,
    Order,
    OrderLine,
    OrderStatus,
    PaymentStatus,
    Product,
    ServiceLevel,
)
from replenishment import services as replenishment
from replenishment.evaluation import suggestions_evaluate
from replenishment.models import ProductionSite, ReorderRule, Source, Suggestion, SuggestionKind, Supplier
from returns import services as returns
from returns.models import CreditMethod, Disposition, Grade, ReturnPolicy, ReturnSource
from routing import services as routing
from routing.models import LaneTransit, RuleSet, RuleSetWarehouse
from shipments import services as fulfilment
from shipments.models import Carrier, CarrierService, PickList, PickListStatus, Shipment, WaveSchedule
from tracking import services as tracking

CREDENTIALS_FILE = settings.VAR_DIR / "demo-credentials.json"

OPS_PERMISSIONS = [
    "view_order",
    "change_order",
    "view_orderline",
    "view_orderevent",
    "view_customer",
    "view_product",
    "view_channel",
    "view_address",
]

CHANNELS = [
    ("web-eu", "Web shop (EU)", ChannelKind.WEB),
    ("marketplace", "Marketplace", ChannelKind.MARKETPLACE),
    ("athens-store", "Athens flagship store", ChannelKind.STORE),
    ("mobile-app", "Mobile app", ChannelKind.APP),
]

WAREHOUSES = [
    (
        "ATH1",
        "Athens DC",
        "warehouse",
        "Leoforos Athinon 100",
        "Athens",
        "104 47",
        "GR",
        "37.9838",
        "23.7275",
        "Europe/Athens",
    ),
    (
        "SKG1",
        "Thessaloniki DC",
        "warehouse",
        "26is Oktovriou 40",
        "Thessaloniki",
        "546 27",
        "GR",
        "40.6401",
        "22.9444",
        "Europe/Athens",
    ),
    (
        "BER1",
        "Berlin fulfilment",
        "warehouse",
        "Am Borsigturm 10",
        "Berlin",
        "13507",
        "DE",
        "52.5200",
        "13.4050",
        "Europe/Berlin",
    ),
    (
        "ATH-ST",
        "Athens flagship store",
        "store",
        "Ermou 20",
        "Athens",
        "105 63",
        "GR",
        "37.9765",
        "23.7296",
        "Europe/Athens",
    ),
]

PRODUCTS = [
    ("TSHIRT-BLK-M", "T-shirt black M", 180, "19.90"),
    ("TSHIRT-BLK-L", "T-shirt black L", 190, "19.90"),
    ("TSHIRT-WHT-M", "T-shirt white M", 180, "19.90"),
    ("HOODIE-GRY-M", "Hoodie grey M", 520, "49.00"),
    ("HOODIE-GRY-L", "Hoodie grey L", 540, "49.00"),
    ("JEANS-32-32", "Jeans 32/32", 700, "69.00"),
    ("SNEAKER-42", "Sneakers size 42", 900, "89.00"),
    ("SNEAKER-43", "Sneakers size 43", 920, "89.00"),
    ("CAP-NAVY", "Cap navy", 90, "15.00"),
    ("SOCKS-3P", "Socks, pack of 3", 120, "9.90"),
    ("BAG-TOTE", "Tote bag", 250, "24.00"),
    ("BOTTLE-750", "Steel bottle 750 ml", 350, "22.50"),
    ("OLIVE-OIL-1L", "Olive oil 1 l", 1050, "14.80"),
    ("HONEY-450", "Thyme honey 450 g", 520, "11.20"),
    ("SOAP-OLIVE", "Olive soap", 110, "4.50"),
    ("MUG-CERAMIC", "Ceramic mug", 400, "12.00"),
    ("NOTEBOOK-A5", "Notebook A5", 300, "8.90"),
    ("UMBRELLA", "Umbrella", 450, "27.00"),
]

CUSTOMERS = [
    (
        "Maria",
        "Papadopoulou",
        "maria.p@example.gr",
        "+306912345678",
        "GR",
        "Athens",
        "Odos Patision 12",
        "104 34",
    ),
    (
        "Giorgos",
        "Nikolaou",
        "g.nikolaou@example.gr",
        "+306923456789",
        "GR",
        "Thessaloniki",
        "Tsimiski 45",
        "546 23",
    ),
    (
        "Eleni",
        "Georgiou",
        "eleni.georgiou@example.com",
        "+306934567890",
        "GR",
        "Patra",
        "Maizonos 80",
        "262 21",
    ),
    (
        "Anna",
        "Schmidt",
        "anna.schmidt@example.de",
        "+4915112345678",
        "DE",
        "Berlin",
        "Torstrasse 101",
        "10119",
    ),
    (
        "Lukas",
        "Müller",
        "lukas.mueller@example.de",
        "+4917612345678",
        "DE",
        "Hamburg",
        "Mönckebergstrasse 7",
        "20095",
    ),
    (
        "Sophie",
        "Martin",
        "sophie.martin@example.fr",
        "+33612345678",
        "FR",
        "Lyon",
        "12 rue de la République",
        "69002",
    ),
    (
        "Nikos",
        "Dimitriou",
        "nikos.d@example.gr",
        "+306945678901",
        "GR",
        "Heraklion",
        "Leoforos Dikaiosynis 20",
        "712 01",
    ),
    ("Katerina", "Ioannou", "k.ioannou@example.gr", "+306956789012", "GR", "Larissa", "Kyprou 33", "412 22"),
    ("Jan", "de Vries", "jan.devries@example.nl", "+31612345678", "NL", "Amsterdam", "Damrak 70", "1012 LM"),
    (
        "Dimitra",
        "Vlachou",
        "dimitra.v@example.gr",
        "+306967890123",
        "GR",
        "Athens",
        "Ippokratous 15",
        "106 79",
    ),
]

# How the demo's orders are spread over statuses (the rest stay received).
STATUS_PLAN = (
    [OrderStatus.DELIVERED] * 14
    + [OrderStatus.SHIPPED] * 6
    + [OrderStatus.IN_FULFILLMENT] * 5
    + [OrderStatus.ALLOCATED] * 6
    + [OrderStatus.BACKORDERED] * 3
    + [OrderStatus.ON_HOLD] * 3
    + [OrderStatus.CANCELLED] * 3
    + [OrderStatus.PARTIALLY_ALLOCATED] * 2
    + [OrderStatus.RECEIVED] * 6
)

LOT_TRACKED = {"OLIVE-OIL-1L", "HONEY-450"}

# Never received anywhere: orders that want it wait for stock (backordered / partially allocated).
OUT_OF_STOCK_SKU = "UMBRELLA"

# What happens to an order after its stock is allocated, by the status it should end in: the real
# fulfilment flow (wave, pick, pack, sandbox label, hand-over) as far as that status.
AFTER_ALLOCATION = {
    OrderStatus.IN_FULFILLMENT: ["wave"],
    OrderStatus.SHIPPED: ["wave", "pick", "ship"],
    OrderStatus.DELIVERED: ["wave", "pick", "ship", "deliver"],
}
NEEDS_STOCK = {
    OrderStatus.ALLOCATED,
    OrderStatus.PARTIALLY_ALLOCATED,
    OrderStatus.BACKORDERED,
    *AFTER_ALLOCATION,
}


class Command(BaseCommand):
    help = "Load demo data when the database is empty, and print where to log in and with what."

    def handle(self, *args, **options):
        if Channel.objects.exists():
            self.stdout.write("The database already has data; demo data not loaded.")
        else:
            credentials = self._load()
            CREDENTIALS_FILE.parent.mkdir(parents=True, exist_ok=True)
            CREDENTIALS_FILE.write_text(json.dumps(credentials, indent=2))
            CREDENTIALS_FILE.chmod(0o600)
            self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        if CREDENTIALS_FILE.exists():
            credentials = json.loads(CREDENTIALS_FILE.read_text())
            self.stdout.write("")
            self.stdout.write(
                "  Dashboard:   {base}/  (ops staff: ops / {ops_password})".format(
                    base=settings.PUBLIC_BASE_URL, **credentials
                )
            )
            self.stdout.write(
                "  Admin:       {base}/admin/  (admin / {admin_password})".format(
                    base=settings.PUBLIC_BASE_URL, **credentials
                )
            )
            self.stdout.write(f"  API docs:    {settings.PUBLIC_BASE_URL}/api/docs/")
            self.stdout.write("  Channel key for web-eu (Authorization: Bearer ...):")
            self.stdout.write("               {web_channel_key}".format(**credentials))
            self.stdout.write("  Integration key (scopes catalog, inventory):")
            self.stdout.write("               {integration_key}".format(**credentials))

    @transaction.atomic
    def _load(self) -> dict[str, str]:
        rng = self.rng = random.Random(20261125)
        ops_group, _ = Group.objects.get_or_create(name=OPS_GROUP)
        ops_group.permissions.set(Permission.objects.filter(codename__in=OPS_PERMISSIONS))
        ops_password, admin_password = "ops-demo-2026", "admin-demo-2026"
        ops = User.objects.create_user(
            "ops", "ops@example.com", ops_password, first_name="Olga", last_name="Ops"
        )
        ops.groups.add(ops_group)
        User.objects.create_superuser("admin", "admin@example.com", admin_password)

        channels = {}
        keys = {}
        for code, name, kind in CHANNELS:
            channels[code] = services.channel_create(code=code, name=name, kind=kind)
            keys[code] = services.api_key_create(name=f"{code} key", channel=channels[code])[1]
        self._messaging(channels)
        integration_key = services.api_key_create(name="ERP sync", scopes=["catalog", "inventory"])[1]

        services.products_upsert(
            products=[
                services.ProductInput(sku=sku, name=name, weight_grams=grams)
                for sku, name, grams, _ in PRODUCTS
            ]
        )
        # Food is kept in lots with expiry dates, so the demo shows FEFO and the expiring-soon list.
        Product.objects.filter(sku__in=LOT_TRACKED).update(lot_tracked=True)

        products = {p.sku: p for p in Product.objects.all()}
        prices = {sku: Decimal(price) for sku, _, _, price in PRODUCTS}
        for code, name, kind, line1, city, postal, country, lat, lon, tz in WAREHOUSES:
            warehouse = Warehouse.objects.create(
                code=code,
                name=name,
                kind=kind,
                line1=line1,
                city=city,
                postal_code=postal,
                country=country,
                latitude=Decimal(lat),
                longitude=Decimal(lon),
                time_zone=tz,
                cutoff_time="15:00",
                capacity_per_day=500 if kind == "warehouse" else 40,
            )
            for sku in products:
                if sku == OUT_OF_STOCK_SKU or rng.random() >= 0.8:
                    continue
                lots = [("", None)]
                if sku in LOT_TRACKED:
                    today = timezone.localdate()
                    lots = [
                        (f"{sku[:3]}-{code}-{warehouse.code}", today + timedelta(days=days))
                        for code, days in (("2611", 12), ("2701", 75), ("2704", 160))
                    ]
                for lot_code, expiry in lots:
                    stock.stock_receive(
                        warehouse=warehouse,
                        product=products[sku],
                        quantity=rng.randint(5, 120),
                        actor="demo loader",
                        lot_code=lot_code,
                        expiry_date=expiry,
                        bin_code=f"{rng.choice('ABCD')}-{rng.randint(1, 12):02d}-{rng.randint(1, 4)}",
                        reference_type=ReferenceType.OPENING,
                        reason="opening stock",
                    )

        self._routing_rules(User.objects.get(username="admin"))

        # The sandbox carrier plays its tracking script in real time (a parcel takes a day and a half),
        # so that its estimates, the lane history and the accuracy figures mean what they say.
        sandbox = Carrier.objects.create(code="sandbox", name="Sandbox Post", adapter="sandbox")
        for level, name in (
            (ServiceLevel.STANDARD, "Standard (2 days)"),
            (ServiceLevel.EXPRESS, "Express (next day)"),
        ):
            CarrierService.objects.create(carrier=sandbox, code=level, name=name, service_level=level)

        now = timezone.now()
        plan = STATUS_PLAN[:]
        rng.shuffle(plan)
        system = services.Actor.system("demo loader")
        for index, target in enumerate(plan):
            first, last, email, phone, country, city, street, postal = CUSTOMERS[index % len(CUSTOMERS)]
            channel = list(channels.values())[index % len(channels)]
            in_stock = sorted(sku for sku in products if sku != OUT_OF_STOCK_SKU)
            skus = rng.sample(in_stock, rng.randint(1, 3))
            if target == OrderStatus.BACKORDERED:
                skus = [OUT_OF_STOCK_SKU]
            elif target == OrderStatus.PARTIALLY_ALLOCATED:
                skus = [*skus[:1], OUT_OF_STOCK_SKU]
            order = services.order_create(
                channel=channel,
                actor=services.Actor(type="channel", label=f"{channel.code} key"),
                data=services.OrderInput(
                    external_id=f"{channel.code[:3].upper()}-{100200 + index}",
                    customer=services.CustomerInput(
                        email=email, phone=phone, first_name=first, last_name=last
                    ),
                    shipping_address={
                        "name": f"{first} {last}",
                        "line1": street,
                        "city": city,
                        "postal_code": postal,
                        "country": country,
                    },
                    lines=[
                        services.LineInput(sku=sku, quantity=rng.randint(1, 3), unit_price=prices[sku])
                        for sku in skus
                    ],
                    currency="EUR",
                    placed_at=now - timedelta(days=rng.randint(0, 13), minutes=rng.randint(0, 600)),
                    service_level=rng.choice([ServiceLevel.STANDARD] * 4 + [ServiceLevel.EXPRESS]),
                    payment_status=PaymentStatus.PAID
                    if target != OrderStatus.ON_HOLD
                    else PaymentStatus.PENDING,
                    shipping_total=Decimal("4.90"),
                    language="el" if country == "GR" and index % 2 else "",
                ),
            )
            if target in NEEDS_STOCK:
                stock.stock_allocate(order_id=order.pk, actor="demo loader")
            steps = AFTER_ALLOCATION.get(target, [])
            for step in steps:
                self._fulfil(order, step, system, delivered="deliver" in steps)
            if target == OrderStatus.ON_HOLD:
                services.order_hold(
                    order_id=order.pk,
                    reason=rng.choice([HoldReason.PAYMENT_PENDING, HoldReason.FRAUD_REVIEW]),
                    actor=system,
                    note="demo",
                )
            elif target == OrderStatus.CANCELLED:
                services.order_cancel(order_id=order.pk, actor=system, reason="customer changed their mind")
        self._past_weeks(channels, products, prices)
        self._follow_parcels()
        self._returns()
        self._replenishment(products)
        self._kpis()
        for warehouse in Warehouse.objects.filter(kind="warehouse"):
            WaveSchedule.objects.create(warehouse=warehouse, every_minutes=30)
        return {
            "ops_password": ops_password,
            "admin_password": admin_password,
            "web_channel_key": keys["web-eu"],
            "integration_key": integration_key,
        }

    def _messaging(self, channels: dict) -> None:
        """How each channel speaks to its customers. The web shop and the app have no quiet hours, so
        that a newcomer's test order is confirmed within seconds at any hour; the marketplace keeps
        the default (21:00 - 08:00 in the customer's time zone) and the store writes in Greek."""
        looks = {
            "web-eu": ("Northwind Outfitters", "#1f4e79", "en", None),
            "marketplace": ("Northwind on Marketplace", "#7a3e9d", "en", (time(21), time(8))),
            "athens-store": ("Northwind Αθήνα", "#0f766e", "el", None),
            "mobile-app": ("Northwind app", "#b45309", "en", None),
        }
        for code, channel in channels.items():
            brand, colour, language, quiet = looks[code]
            ChannelMessaging.objects.create(
                channel=channel,
                brand_name=brand,
                colour=colour,
                language=language,
                sender_email=f"orders+{code}@northwind.example",
                quiet_start=quiet[0] if quiet else time(0),
                quiet_end=quiet[1] if quiet else time(0),
            )

    def _routing_rules(self, admin: User) -> None:
        """A published rule set (the network, nearest first, stores left out) with lane times, and a
        draft of its next version (Greece only) to dry-run against it in admin."""
        houses = {w.code: w for w in Warehouse.objects.all()}
        in_force = RuleSet.objects.create(
            name="Network",
            max_shipments=2,
            exclude_stores=True,
            notes="Nearest warehouse first; at most two parcels; stores keep their stock for walk-ins.",
            created_by=admin,
        )
        for rank, code in enumerate(["ATH1", "SKG1", "BER1"], start=1):
            RuleSetWarehouse.objects.create(rule_set=in_force, warehouse=houses[code], rank=rank)
        routing.rule_set_record_edit(rule_set_id=in_force.pk, user=admin, changes={}, created=True)
        routing.rule_set_publish(rule_set_id=in_force.pk, user=admin)
        draft = routing.rule_set_draft_from(rule_set_id=in_force.pk, user=admin)
        RuleSet.objects.filter(pk=draft.pk).update(
            keep_within_country=True,
            notes="Next version under study: Greek orders from Greek warehouses only.",
        )
        routing.rule_set_record_edit(
            rule_set_id=draft.pk, user=admin, changes={"keep_within_country": [False, True]}
        )
        for code, country, prefix, days in (
            ("ATH1", "GR", "1", "1.0"),
            ("ATH1", "GR", "", "2.0"),
            ("SKG1", "GR", "5", "1.0"),
            ("SKG1", "GR", "", "2.0"),
            ("BER1", "DE", "", "1.0"),
            ("BER1", "GR", "", "4.0"),
            ("ATH1", "DE", "", "4.0"),
        ):
            LaneTransit.objects.create(
                warehouse=houses[code], country=country, postal_prefix=prefix, transit_days=Decimal(days)
            )

    def _past_weeks(self, channels: dict, products: dict, prices: dict) -> None:
        """Five weeks of delivered orders before the present ones, so that every KPI has a trend.
        Written as the past left them; the order history is append-only, so its rows are inserted
        with the times of what they record, as seed_scale does. Each order was placed, routed an
        hour later, and shipped from the Athens DC the same day or the next. The carrier's scans
        follow, with a failed attempt now and then, and the parcel is delivered a day or two later,
        now and then after the promised day. Its first ETA is scored. No stock moves: these orders
        left the shelves long ago."""
        from django.db import connection

        from routing.models import DecisionOutcome, RoutingDecision
        from shipments.carriers.base import Milestone
        from tracking.models import EtaPrediction, TrackingEvent, TrackingState

        rng = self.rng
        athens = Warehouse.objects.get(code="ATH1")
        service = CarrierService.objects.get(carrier__code="sandbox", code=ServiceLevel.STANDARD)
        customers = list(Customer.objects.order_by("pk"))
        stocked = sorted(sku for sku in products if sku != OUT_OF_STOCK_SKU)
        now = timezone.now()
        history = []
        for days_ago in range(35, 3, -1):
            for _ in range(rng.randint(2, 5)):
                customer = rng.choice(customers)
                channel = rng.choice(list(channels.values()))
                sku = rng.choice(stocked)
                placed = now - timedelta(days=days_ago, hours=rng.randint(0, 10))
                handed = placed + timedelta(hours=rng.choice([3, 5, 8, 26]))
                late = rng.random() < 0.1
                delivered = handed + timedelta(hours=rng.randint(60, 90) if late else rng.randint(18, 40))
                address = Address.objects.create(
                    name=f"{customer.first_name} {customer.last_name}",
                    line1="Odos Ermou 1",
                    city="Athens",
                    postal_code="105 63",
                    country="GR",
                )
                price = prices[sku]
                order = Order.objects.create(
                    channel=channel,
                    external_id=f"{channel.code[:3].upper()}-{99000 + len(history)}",
                    customer=customer,
                    contact_email=customer.email,
                    contact_first_name=customer.first_name,
                    contact_last_name=customer.last_name,
                    shipping_address=address,
                    status=OrderStatus.DELIVERED,
                    currency="EUR",
                    subtotal=price,
                    shipping_total=Decimal("4.90"),
                    total=price + Decimal("4.90"),
                    service_level=ServiceLevel.STANDARD,
                    payment_status=PaymentStatus.PAID,
                    placed_at=placed,
                )
                OrderLine.objects.create(
                    order=order,
                    line_number=1,
                    product=products[sku],
                    sku=sku,
                    name=products[sku].name,
                    quantity=1,
                    unit_price=price,
                    total=price,
                    qty_allocated=1,
                    qty_picked=1,
                    qty_shipped=1,
                    qty_delivered=1,
                )
                Order.objects.filter(pk=order.pk).update(created_at=placed, updated_at=delivered)
                routed = placed + timedelta(hours=1)
                steps = [
                    ("created", "", OrderStatus.RECEIVED, placed),
                    ("status_changed", OrderStatus.RECEIVED, OrderStatus.ALLOCATED, routed),
                    (
                        "status_changed",
                        OrderStatus.ALLOCATED,
                        OrderStatus.IN_FULFILLMENT,
                        handed - timedelta(hours=1),
                    ),
                    ("status_changed", OrderStatus.IN_FULFILLMENT, OrderStatus.SHIPPED, handed),
                    ("status_changed", OrderStatus.SHIPPED, OrderStatus.DELIVERED, delivered),
                ]
                history += [
                    (order.pk, kind, a, b, "system", "demo loader", "", at) for kind, a, b, at in steps
                ]
                decision = RoutingDecision.objects.create(
                    order=order,
                    outcome=DecisionOutcome.ALLOCATED,
                    plan=[],
                    reserved={},
                    trace=[],
                    duration_ms=1.0,
                )
                RoutingDecision.objects.filter(pk=decision.pk).update(created_at=routed)
                shipment = Shipment.objects.create(
                    order=order,
                    warehouse=athens,
                    service=service,
                    status="delivered",
                    tracking_number=f"SBX{order.pk:09d}",
                    cost=Decimal("4.20"),
                    currency="EUR",
                    shipped_at=handed,
                )
                TrackingState.objects.create(
                    shipment=shipment,
                    milestone=Milestone.DELIVERED,
                    milestone_at=delivered,
                    last_event_at=delivered,
                    last_received_at=delivered,
                    promised_date=timezone.localdate(handed) + timedelta(days=2),
                    delivered_at=delivered,
                    is_active=False,
                )
                scans = [
                    ("SBX-PU", Milestone.PICKED_UP, handed + timedelta(hours=1)),
                    ("SBX-HUB", Milestone.ARRIVED_AT_HUB, handed + timedelta(hours=9)),
                ]
                if rng.random() < 0.08:
                    scans.append(("SBX-NH", Milestone.ATTEMPTED_DELIVERY, delivered - timedelta(hours=22)))
                scans.append(("SBX-DL", Milestone.DELIVERED, delivered))
                TrackingEvent.objects.bulk_create(
                    TrackingEvent(
                        shipment=shipment,
                        tracking_number=shipment.tracking_number,
                        carrier_code=code,
                        occurred_at=at,
                        received_at=at + timedelta(seconds=rng.randint(20, 900)),
                        milestone=milestone,
                        source="poll",
                        dedupe_key=f"demo-{shipment.pk}-{code}",
                    )
                    for code, milestone, at in scans
                )
                predicted = timezone.localdate(handed) + timedelta(days=1)
                actual = timezone.localdate(delivered)
                eta = EtaPrediction.objects.create(
                    shipment=shipment,
                    milestone=Milestone.LABEL_CREATED,
                    predicted_date=predicted,
                    earliest=predicted,
                    latest=predicted + timedelta(days=1),
                    basis="demo history",
                    actual_date=actual,
                    error_days=(actual - predicted).days,
                    inside_window=predicted <= actual <= predicted + timedelta(days=1),
                )
                EtaPrediction.objects.filter(pk=eta.pk).update(made_at=handed)
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO orders_orderevent (order_id, kind, from_status, to_status, actor_type, "
                "actor_label, note, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                history,
            )

    def _kpis(self) -> None:
        """What picking and packing costs at each warehouse, two thresholds ops watch, and the
        figures folded from everything above (beat folds what comes next)."""
        from kpis import services as kpis
        from kpis.models import HandlingCost, Threshold

        since = timezone.localdate() - timedelta(days=90)
        for warehouse in Warehouse.objects.all():
            cost = Decimal("1.80") if warehouse.kind == "warehouse" else Decimal("0.90")
            HandlingCost.objects.create(warehouse=warehouse, valid_from=since, per_shipment=cost)
        Threshold.objects.create(
            kpi="on_time",
            direction="below",
            alert_at=Decimal("0.90"),
            recover_at=Decimal("0.95"),
            window_days=7,
        )
        Threshold.objects.create(
            kpi="cycle_time",
            direction="above",
            alert_at=Decimal("72"),
            recover_at=Decimal("60"),
            window_days=7,
        )
        kpis.figures_rebuild()
        kpis.thresholds_evaluate()

    def _follow_parcels(self) -> None:
        """Replay the days since the first parcel left, polling the carrier as beat does: events are
        stored when they would have been, deliveries score the estimates made before them, and the
        tracking page's latency and accuracy figures are those of a real week."""
        first = Shipment.objects.filter(shipped_at__isnull=False).order_by("shipped_at").first()
        if first is None:
            return
        now = timezone.now()
        moment = first.shipped_at
        while moment < now:
            moment = min(moment + timedelta(minutes=20), now)
            tracking.tracking_poll_due(now=moment)

    def _replenishment(self, products: dict) -> None:
        """Suppliers and a workshop, a default rule per SKU (the store refills from the Athens DC), one
        evaluation, and what ops would have done with part of it: a purchase order sent and on its
        way, a production order on the workshop's schedule serving the umbrella backorders, and open
        suggestions left for the newcomer to decide."""
        textiles = Supplier.objects.create(
            code="hellas-textiles",
            name="Hellas Textiles",
            email="purchasing@hellas-textiles.example",
            lead_time_days=10,
        )
        foods = Supplier.objects.create(
            code="aegean-foods", name="Aegean Foods", email="orders@aegean-foods.example", lead_time_days=5
        )
        goods = Supplier.objects.create(
            code="nordic-goods", name="Nordic Goods", email="po@nordic-goods.example", lead_time_days=14
        )
        houses = {w.code: w for w in Warehouse.objects.all()}
        workshop = ProductionSite.objects.create(
            code="skg-workshop",
            name="Thessaloniki workshop",
            warehouse=houses["ATH1"],
            lead_time_days=4,
            capacity_per_day=25,
        )
        for sku, product in sorted(products.items()):
            if sku == OUT_OF_STOCK_SKU:
                # made, not bought; the Athens DC carries its backorders
                ReorderRule.objects.create(
                    product=product,
                    warehouse=houses["ATH1"],
                    reorder_point=10,
                    order_up_to=60,
                    order_multiple=5,
                    source=Source.PRODUCTION,
                    production_site=workshop,
                    covers_backorders=True,
                )
                continue
            supplier = (
                textiles
                if sku.split("-")[0] in {"TSHIRT", "HOODIE", "JEANS", "CAP", "SOCKS"}
                else foods
                if sku in LOT_TRACKED or sku == "SOAP-OLIVE"
                else goods
            )
            ReorderRule.objects.create(
                product=product,
                warehouse=None,
                reorder_point=40,
                order_up_to=120,
                min_order_qty=12,
                order_multiple=6,
                source=Source.SUPPLIER,
                supplier=supplier,
            )
            ReorderRule.objects.create(
                product=product,
                warehouse=houses["ATH-ST"],
                reorder_point=4,
                order_up_to=12,
                source=Source.TRANSFER,
                source_warehouse=houses["ATH1"],
            )
        suggestions_evaluate()
        actor = "ops"
        # the supplier and warehouse with the most to buy: their first three suggestions are ordered
        groups: dict[tuple[int, int], list] = {}
        for suggestion in Suggestion.objects.filter(status="open", kind=SuggestionKind.PURCHASE).order_by(
            "pk"
        ):
            groups.setdefault((suggestion.supplier_id, suggestion.position.warehouse_id), []).append(
                suggestion
            )
        purchase = max(groups.values(), key=len, default=[])[:3]
        made = list(Suggestion.objects.filter(status="open", kind=SuggestionKind.PRODUCTION))
        for suggestion in purchase + made:
            replenishment.suggestion_decide(suggestion_id=suggestion.pk, approve=True, actor=actor)
        ordered = replenishment.suggestions_order(suggestion_ids=[s.pk for s in purchase + made], actor=actor)
        for purchase_order in ordered.purchase_orders:
            replenishment.purchase_order_send(purchase_order_id=purchase_order.pk, actor=actor)

    def _returns(self) -> None:
        """Returns in the states ops meet, on delivered orders; the other delivered orders are left for
        a newcomer to send something back from the tracking page."""
        ReturnPolicy.objects.update_or_create(
            channel=None,
            defaults={
                "window_days": 30,
                "restocking_fee_percent": Decimal("5"),
                "customer_label_fee": Decimal("4.90"),
                "refund_shipping": True,
                # "Not as described" and "other" are looked at by a person.
                "auto_approve_reasons": [
                    "damaged",
                    "wrong_item",
                    "too_small",
                    "too_large",
                    "changed_mind",
                    "late",
                ],
                "auto_approve_max_value": Decimal("150"),
            },
        )
        delivered = list(Order.objects.filter(status=OrderStatus.DELIVERED).order_by("pk"))
        plan = [
            ("closed", "damaged", CreditMethod.REFUND),
            ("closed", "too_small", CreditMethod.EXCHANGE),
            ("received", "too_large", CreditMethod.REFUND),
            ("label_issued", "changed_mind", CreditMethod.STORE_CREDIT),
            ("authorised", "changed_mind", CreditMethod.REFUND),
            ("requested", "not_as_described", CreditMethod.REFUND),
            ("rejected", "other", CreditMethod.REFUND),
        ]
        actor = services.Actor.system("demo loader")
        for order, (target, reason, method) in zip(delivered, plan, strict=False):
            line = order.lines.order_by("line_number").first()
            ret = returns.return_request(
                channel=order.channel,
                source=ReturnSource.CUSTOMER,
                actor=services.Actor.system("the customer (tracking page)"),
                credit_method=method,
                lines=[
                    returns.ReturnLineInput(
                        order_id=order.pk,
                        line_number=line.line_number,
                        quantity=1,
                        reason=reason,
                        note="the seams came apart after one wash" if reason == "other" else "",
                    )
                ],
            )
            lines = list(ret.lines.all())
            if target == "rejected":
                returns.return_reject(
                    return_id=ret.pk, actor=actor, reason="Washed items cannot be taken back; see our policy."
                )
            elif target == "label_issued":
                returns.return_label_issue(return_id=ret.pk, actor=actor)
            elif target in ("received", "closed"):
                returns.return_receive(
                    return_id=ret.pk,
                    actor=actor,
                    received={rl.pk: rl.quantity for rl in lines},
                    inspections=[
                        returns.InspectionInput(
                            line_id=rl.pk,
                            quantity=rl.quantity,
                            grade=Grade.GOOD if reason != "damaged" else Grade.DAMAGED,
                            disposition=Disposition.RESTOCK if reason != "damaged" else Disposition.SCRAP,
                            lot_code="RET-" + ret.number[-4:] if rl.order_line.product.lot_tracked else "",
                        )
                        for rl in lines
                    ]
                    if target == "closed"
                    else None,
                )

    def _fulfil(self, order, step: str, actor, *, delivered: bool = False) -> None:
        warehouse_ids = sorted({a["warehouse_id"] for a in inventory_selectors.active_allocations(order.pk)})
        if step == "wave":
            for warehouse_id in warehouse_ids:
                fulfilment.wave_release(warehouse_id=warehouse_id, actor=actor, order_ids=[order.pk])
        elif step == "pick":
            for pick_list in PickList.objects.filter(
                status=PickListStatus.OPEN, lines__order_line__order=order
            ).distinct():
                fulfilment.pick_list_confirm(
                    pick_list_id=pick_list.pk,
                    picked={line.pk: line.quantity for line in pick_list.lines.all()},
                    actor=actor,
                )
        elif step == "ship":
            for warehouse_id in warehouse_ids:
                contents = fulfilment.packable_units(order_id=order.pk, warehouse_id=warehouse_id)
                package = fulfilment.package_create(
                    order_id=order.pk,
                    warehouse_id=warehouse_id,
                    contents=contents,
                    weight_grams=400 + 350 * sum(contents.values()),
                    length_mm=350,
                    width_mm=250,
                    height_mm=120,
                    actor=actor,
                )
                shipment = fulfilment.shipment_create(package_ids=[package.pk], actor=actor)
                fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=actor)
                fulfilment.shipment_hand_over(shipment_id=shipment.pk, actor=actor)
                # Handed over in the past - hours ago for parcels on their way (at different stages
                # of the carrier's day-and-a-half script), days ago for delivered ones - with the
                # carrier's estimate and the first prediction as they were then, so that the lane
                # history and the accuracy figures are those of a real week.
                hours = self.rng.randint(60, 110) if delivered else self.rng.randint(1, 30)
                handed = timezone.now() - timedelta(hours=hours)
                shift = timezone.localdate() - timezone.localdate(handed)
                shipment.refresh_from_db()
                Shipment.objects.filter(pk=shipment.pk).update(
                    shipped_at=handed,
                    estimated_delivery=shipment.estimated_delivery - shift
                    if shipment.estimated_delivery
                    else None,
                )
                tracking.tracking_start(shipment_id=shipment.pk, now=handed)
        elif step == "deliver":
            pass  # the carrier's script runs to its end in _follow_parcels, which replays the past
