"""The simulated merchant's world, written into an empty OMS through its own services: channels,
warehouses in Greek cities with capacity, cut-off and waves, a catalogue with opening stock where
its buyers live, reorder rules and a supplier, the zoned courier, the routing rules, customer
messaging and the return policy. Everything a strategy needs to be compared on the same world."""

import math
import random
from dataclasses import dataclass, field
from datetime import time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from inventory import services as stock
from inventory.models import ReferenceType, Warehouse
from kpis.models import HandlingCost
from notifications.models import Category, ChannelMessaging, Trigger
from notifications.services import RULES
from orders import services as orders
from orders.models import ChannelKind, Product, ServiceLevel
from replenishment.models import ReorderRule, Source, Supplier
from returns.models import ReturnPolicy
from routing import services as routing
from routing.models import RuleSet, RuleSetWarehouse
from shipments.models import Carrier, CarrierService, WaveSchedule
from simulation.world import CITIES, HUBS, Demand, Params, crosses_sea, hub_shares, lane_surcharge

CARRIER_CODE = "sim-post"
CARRIER_SECRET_ENV = "OMS_SIMULATION_CARRIER_SECRET"
CHANNELS = (
    ("web", "Web shop", ChannelKind.WEB),
    ("marketplace", "Marketplace", ChannelKind.MARKETPLACE),
    ("store", "Store (ship to home)", ChannelKind.STORE),
    ("app", "Mobile app", ChannelKind.APP),
)
OPENING_COVER_DAYS = 14  # opening stock: two weeks of each warehouse's expected demand
SUPPLIER_LEAD_DAYS = 4
MISSING_AT_HUB = 0.15  # share of SKUs a warehouse other than the first does not carry at the start
UNITS_PER_ORDER = 2.1  # the demand model's mean (1.8 lines of 1.18 units), for sizing stock
WORKING_HOURS = (7, 21)  # pickers' day, local time
THROUGHPUT_HEADROOM = 1.35  # pickers can pick this many times a warehouse's expected units per day
MIN_PICKS_PER_HOUR = 40.0  # and a warehouse has at least one picker (about 40 units an hour)
CARRIER_COLLECTION = time(17)  # the courier collects the day's parcels
CUTOFF = time(15)


@dataclass(frozen=True)
class Variant:
    """What differs between runs on the same order stream."""

    name: str
    routing: str  # "greedy" (nearest warehouse per line, decided once) or "rules" (the rule set)
    reorder: bool = True
    notifications: bool = True


@dataclass
class World:
    channels: dict[str, int] = field(default_factory=dict)  # code -> id
    hubs: dict[int, int] = field(default_factory=dict)  # city index -> warehouse id
    products: dict[int, int] = field(default_factory=dict)  # catalogue rank -> product id
    prices: dict[int, Decimal] = field(default_factory=dict)
    weights: dict[int, int] = field(default_factory=dict)
    picks_per_hour: dict[int, float] = field(default_factory=dict)  # warehouse id -> units per hour


def postal_prefix(city: int) -> str:
    return CITIES[city][1].replace(" ", "")[:3]


@transaction.atomic
def world_build(params: Params, variant: Variant) -> World:
    rng = random.Random(f"{params.seed}:world")
    world = World()
    hubs = HUBS[: params.warehouses]
    shares = hub_shares(hubs)
    demand = Demand(params)
    expected_units = [params.orders_per_day * UNITS_PER_ORDER * w for w in demand.sku_weights]

    for code, name, kind in CHANNELS:
        channel = orders.channel_create(code=code, name=name, kind=kind)
        world.channels[code] = channel.pk
        _messaging(channel, variant.notifications)

    orders.products_upsert(
        products=[
            orders.ProductInput(
                sku=_sku(rank), name=f"Article {rank + 1}", weight_grams=rng.randint(150, 1500)
            )
            for rank in range(params.skus)
        ]
    )
    for product in Product.objects.filter(sku__in=[_sku(rank) for rank in range(params.skus)]):
        rank = int(product.sku.split("-")[1]) - 1
        world.products[rank] = product.pk
        world.weights[rank] = product.weight_grams
        world.prices[rank] = Decimal(rng.randint(8, 90)) + Decimal("0.90")

    supplier = Supplier.objects.create(
        code="sim-supplier", name="Simulated supplier", lead_time_days=SUPPLIER_LEAD_DAYS
    )
    products = {pk: Product.objects.get(pk=pk) for pk in world.products.values()}
    for order_in_network, city in enumerate(hubs):
        name, postal, lat, lon, _ = CITIES[city]
        units_per_day = params.orders_per_day * UNITS_PER_ORDER * shares[city]
        world_hours = WORKING_HOURS[1] - WORKING_HOURS[0]
        picks_per_hour = max(THROUGHPUT_HEADROOM * units_per_day / world_hours, MIN_PICKS_PER_HOUR)
        warehouse = Warehouse.objects.create(
            code=f"{name[:3].upper()}{order_in_network + 1}",
            name=f"{name} warehouse",
            line1=f"Industrial area {order_in_network + 1}",
            city=name,
            postal_code=postal,
            country="GR",
            latitude=Decimal(str(lat)),
            longitude=Decimal(str(lon)),
            time_zone=settings.TIME_ZONE,
            cutoff_time=CUTOFF,
            capacity_per_day=math.ceil(picks_per_hour * world_hours / UNITS_PER_ORDER),
        )
        world.hubs[city] = warehouse.pk
        world.picks_per_hour[warehouse.pk] = picks_per_hour
        WaveSchedule.objects.create(warehouse=warehouse, every_minutes=60, max_orders=200)
        HandlingCost.objects.create(
            warehouse=warehouse, valid_from=params.start - timedelta(days=1), per_shipment=Decimal("1.80")
        )
        for rank, pk in world.products.items():
            daily = expected_units[rank] * shares[city]
            carried = order_in_network == 0 or rank < 10 or rng.random() >= MISSING_AT_HUB
            opening = max(round(daily * OPENING_COVER_DAYS * rng.uniform(0.8, 1.2)), 2) if carried else 0
            if opening:
                stock.stock_receive(
                    warehouse=warehouse,
                    product=products[pk],
                    quantity=opening,
                    actor="simulation",
                    reference_type=ReferenceType.OPENING,
                    reason="opening stock",
                )
            if variant.reorder and carried:
                during_lead = daily * (SUPPLIER_LEAD_DAYS + 1)
                reorder_point = max(math.ceil(during_lead + 2 * math.sqrt(during_lead)), 1)
                ReorderRule.objects.create(
                    product=products[pk],
                    warehouse=warehouse,
                    reorder_point=reorder_point,
                    order_up_to=reorder_point + max(math.ceil(daily * 7), 2),
                    source=Source.SUPPLIER,
                    supplier=supplier,
                    covers_backorders=True,
                )

    carrier = Carrier.objects.create(
        code=CARRIER_CODE,
        name="Simulated courier",
        adapter="sandbox",
        options={
            "webhook_secret_env": CARRIER_SECRET_ENV,
            "zone_surcharges": [
                [
                    postal_prefix(hub),
                    postal_prefix(city),
                    f"{lane_surcharge(hub, city):.2f}",
                    int(crosses_sea(hub, city)),
                ]
                for hub in hubs
                for city in range(len(CITIES))
            ],
        },
    )
    CarrierService.objects.create(
        carrier=carrier, code=ServiceLevel.STANDARD, name="Standard", service_level=ServiceLevel.STANDARD
    )
    ReturnPolicy.objects.update_or_create(
        channel=None,
        defaults={
            "window_days": 30,
            "refund_shipping": False,
            "auto_approve_reasons": [
                "damaged",
                "wrong_item",
                "too_small",
                "too_large",
                "changed_mind",
                "late",
            ],
            "auto_approve_max_value": Decimal("500"),
        },
    )
    if variant.routing == "rules":
        rule_set = RuleSet.objects.create(
            name="Network",
            max_shipments=3,
            minimize_shipments=True,
            respect_cutoff=False,
            # Pickers set each warehouse's pace; an order past a day's nominal capacity waits in the
            # pick queue rather than being backordered.
            respect_capacity=False,
            weight_distance=1.0,
            weight_split=5.0,
            notes="The simulation's published rules: fewest parcels, then nearest.",
        )
        for rank, warehouse_id in enumerate(world.hubs.values(), start=1):
            RuleSetWarehouse.objects.create(rule_set=rule_set, warehouse_id=warehouse_id, rank=rank)
        routing.rule_set_publish(rule_set_id=rule_set.pk, user=None)
    return world


def _sku(rank: int) -> str:
    return f"SIM-{rank + 1:04d}"


def _messaging(channel, notifications: bool) -> None:
    """Every channel writes to its customers; without proactive notifications only what the law
    requires goes out (receipts and return decisions), never a delivery update."""
    triggers = list(Trigger.values)
    if not notifications:
        triggers = [t for t in triggers if RULES[t].category == Category.TRANSACTIONAL]
    ChannelMessaging.objects.create(
        channel=channel,
        brand_name="Simulated merchant",
        sender_email=f"orders+{channel.code}@merchant.example",
        email_triggers=triggers,
        sms_triggers=[] if not notifications else [Trigger.OUT_FOR_DELIVERY],
        quiet_start=time(0),
        quiet_end=time(0),
    )
