"""The discrete-event simulation: the order stream of ``world.Demand`` poured into the real OMS on a
simulated clock (time-machine pins every clock the OMS reads to simulated time; nothing sleeps).

The OMS does what it does in production: its services take the orders, its handlers route them
(the rule set) on the outbox's events, its beat jobs release waves, fold KPIs, evaluate reorder
rules and send customer messages, and its webhook intake takes the courier's scans. The runner
plays everyone outside it, in 15-minute ticks:
- **channels** post the orders (the greedy baseline reserves each line at the nearest warehouse
  with stock instead of asking the router);
- **pickers** work through the released pick lists at each warehouse's pick rate in working hours,
  now and then finding a unit short; packers pack what was picked and buy the label;
- **the courier** collects at 17:00 and pushes its scans as signed webhooks, on the lane's transit
  time (``world.parcel_script``);
- **ops** approve the day's reorder suggestions at 09:00, and **the supplier** delivers after its
  lead time;
- **customers** return some units, and ask where their order is when a parcel is late and nobody
  told them (``world.Customers``).
After the last day of orders the world runs on (``drain_days``) with no new orders, so that what
was ordered can arrive."""

import heapq
import logging
import os
import random
import secrets
import time as wallclock
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import time_machine
from django.db import transaction
from django.db.models import F
from django.test.utils import override_settings
from django.utils import timezone

from inventory import services as stock
from inventory.models import StockPosition
from oms.errors import IllegalTransition, ValidationFailed
from oms.events import outbox_publish_pending
from orders import services as orders
from orders.models import Channel, Order, OrderLine, OrderStatus, PaymentStatus, ServiceLevel
from replenishment import services as replenishment
from replenishment.models import PurchaseOrder, PurchaseOrderStatus, Suggestion, SuggestionStatus
from returns import services as returns
from returns.models import Disposition, Grade, ReturnSource, ReturnStatus
from shipments import services as fulfilment
from shipments.carriers.sandbox import webhook_body, webhook_signature
from shipments.models import PickList, PickListStatus, Shipment, ShipmentStatus
from simulation import setup
from simulation.world import (
    CITIES,
    RETURN_REASONS,
    CarrierModel,
    Customers,
    Demand,
    Params,
    distance_km,
    parcel_script,
)
from tracking import services as tracking

log = logging.getLogger(__name__)

TICK = timedelta(minutes=15)
TICKS_PER_DAY = 96
ACTOR = orders.Actor.system("simulation")
# The beat jobs the simulation runs on its clock; the carrier pushes its scans, so the poll (which
# would ask the sandbox for its own fixed script) is left out.
BEAT_SKIPPED = {"tracking.poll_due"}
# Beat jobs run at their interval on the simulated clock but at most hourly: most find nothing to do
# more often than that, and a run of 30 days would otherwise spend its time asking.
BEAT_FLOOR_SECONDS = 3600.0
# The KPI fold is the dearest of them and nobody reads the simulated dashboard while it runs: every
# four simulated hours, and once more at the end, before its figures are compared with the raw rows.
BEAT_EVERY = {"kpis.fold": 4 * 3600.0}
SHORT_PICK = 0.004  # per pick line: the shelf holds one unit fewer than the books say
OPS_HOUR = 9
SUPPLIER_HOUR = 10
WISMO_HOUR = 20
SHIPPING_FEE = Decimal("3.90")  # what each customer pays for delivery


@dataclass
class Parcel:
    shipment_id: int
    order_id: int
    tracking_number: str
    shipped_at: datetime
    script: list[tuple[float, str, str]]
    pushed: int = 0  # scans sent so far

    def due(self, now: datetime) -> list[tuple[float, str, str]]:
        ready = [s for s in self.script[self.pushed :] if self.shipped_at + timedelta(hours=s[0]) <= now]
        return ready


@dataclass
class Watch:
    """What the runner knows of an order as its customer sees it."""

    placed_at: datetime
    city: int
    key: str  # the order's day and index in the stream
    asked_on: set[date] = field(default_factory=set)


@dataclass
class Tally:
    orders: int = 0
    wismo: int = 0
    wismo_told: int = 0
    returns_requested: int = 0
    short_picks: int = 0
    parcels: int = 0
    purchase_orders_received: int = 0
    filled_at_arrival: int = 0  # orders whose every unit was reserved when they arrived
    stockout_days: int = 0  # SKU-days with no unit free anywhere at the day's end
    stockout_position_days: int = 0  # (SKU, warehouse)-days with none free there
    sku_days: int = 0
    position_days: int = 0


class Simulation:
    def __init__(
        self,
        params: Params,
        variant: setup.Variant,
        *,
        customers: Customers | None = None,
        carrier: CarrierModel | None = None,
        drain_days: int = 7,
        progress: Callable[[int, int], None] | None = None,
    ):
        self.params, self.variant = params, variant
        self.customers, self.carrier = customers or Customers(), carrier or CarrierModel()
        self.drain_days = drain_days
        self.progress = progress or (lambda done, total: None)
        self.zone = timezone.get_default_timezone()
        self.start = datetime.combine(params.start, time.min, tzinfo=self.zone)
        # Every person's choice is drawn from the seed and what it is about (an order, a parcel, a
        # pick line), never from a stream shared by the run: a customer returns the same order and
        # asks about the same late parcel in every variant that delivers it the same way.
        self.seed = params.seed
        self.tally = Tally()
        self.parcels: dict[int, Parcel] = {}
        self.pushes: list[tuple[datetime, int]] = []  # (when, shipment id)
        self.watch: dict[int, Watch] = {}
        self.later: list[tuple[datetime, int, str, int]] = []  # (when, seq, what, id)
        self.budget: dict[int, float] = defaultdict(float)
        self.beat: list[tuple[str, float]] = []
        self.beat_last: dict[str, datetime] = {}
        self.seq = 0
        self.timings: Counter[str] = Counter()
        self.daily: list[dict] = []  # one row per simulated day, for the page's trends
        self.day_began = 0.0
        self.return_decided: set[int] = set()  # orders whose customer has decided on a return

    # ------------------------------------------------------------------------------------------- run

    def run(self) -> dict:
        started = wallclock.perf_counter()
        secret = secrets.token_hex(16)
        os.environ[setup.CARRIER_SECRET_ENV] = secret
        self.secret = secret
        with (
            time_machine.travel(self.start - timedelta(hours=6), tick=False) as self.traveller,
            override_settings(
                ROUTING_ON_RECEIPT=self.variant.routing == "rules",
                EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
                NOTIFICATION_DEBOUNCE_SECONDS=0,
                # The runner publishes the outbox after each of its steps (see _stage).
                OUTBOX_KICK_ON_COMMIT=False,
            ),
        ):
            _eager_tasks()
            # a line per task run would be most of the run's time
            logging.getLogger("celery").setLevel(logging.WARNING)
            self.world = setup.world_build(self.params, self.variant)
            self.channels = {c.code: c for c in Channel.objects.filter(pk__in=self.world.channels.values())}
            self.hub_of = {pk: city for city, pk in self.world.hubs.items()}
            self.opening = {
                (w, p): on_hand
                for w, p, on_hand in StockPosition.objects.values_list(
                    "warehouse_id", "product_id", "on_hand"
                )
            }
            self._beat_init()
            demand = Demand(self.params)
            total_days = self.params.days + self.drain_days
            for day in range(total_days):
                today = self.params.start + timedelta(days=day)
                arrivals = demand.day(day, today.weekday()) if day < self.params.days else []
                self._day(day, today, arrivals)
                self.progress(day + 1, total_days)
            self._drain_outbox()
            self._run_beat(timezone.now() + timedelta(days=1))  # a last round of every job
            # and the fold once more: the last round's messages were sent after its fold had run
            self._fold_now()
        self.elapsed = wallclock.perf_counter() - started
        return {
            "tally": {**self.tally.__dict__, "drain_days": self.drain_days},
            "daily": self.daily,
            "seconds": round(self.elapsed, 1),
            "timings": {k: round(v, 2) for k, v in self.timings.items()},
        }

    def _day(self, day: int, today: date, arrivals: list) -> None:
        self.day_began = wallclock.perf_counter()
        midnight = datetime.combine(today, time.min, tzinfo=self.zone)
        queue = list(arrivals)
        index = 0
        for tick in range(TICKS_PER_DAY):
            moment = midnight + tick * TICK
            end = moment + TICK
            arrived = []
            while index < len(queue) and midnight + timedelta(minutes=queue[index].minute) < end:
                arrival = queue[index]
                self._clock(midnight + timedelta(minutes=arrival.minute))
                arrived.append(self._order(day, index, arrival))
                index += 1
            if arrived:
                self._timed("intake", self._drain_outbox)
                self._filled_at_arrival(arrived)
            self._clock(end - timedelta(seconds=1))
            now = timezone.now()
            self._timed("beat", self._run_beat, now)
            hour = (moment.hour, moment.minute)
            if WORKING_START <= moment.hour < WORKING_END:
                self._stage("pick", self._pick, 0.25)
            if hour == (setup.CARRIER_COLLECTION.hour, 0):
                self._stage("collect", self._collect)
            if hour == (OPS_HOUR, 0):
                self._stage("reorder", self._reorder_ops)
            if hour == (SUPPLIER_HOUR, 0):
                self._stage("supplier", self._supplier_deliveries, today)
            self._stage("carrier", self._push_scans, now)
            self._stage("customers", self._customers_later, now)
            if hour == (WISMO_HOUR, 0):
                self._stage("wismo", self._wismo, today)
        self._stage("stockouts", self._count_stockouts)

    def _rng(self, *about) -> random.Random:
        return random.Random(":".join(str(part) for part in (self.seed, *about)))

    def _key(self, order_id: int) -> str:
        """The order's place in the stream (the same in every variant; its id need not be)."""
        return self.watch[order_id].key

    def _clock(self, moment: datetime) -> None:
        self.traveller.move_to(moment)

    def _stage(self, name: str, call, *args) -> None:
        """One step of the world, then the events it raised, published together and handled in
        order: the outbox as a loaded worker runs it, where a kick window gathers the commits of a
        moment (ADR 0023). Each commit kicking the relay in this process would nest every handler
        inside the commit that raised its event, and publish one event at a time."""
        self._timed(name, self._then_publish, call, *args)

    def _then_publish(self, call, *args) -> None:
        call(*args)
        self._drain_outbox()

    def _timed(self, name: str, call, *args) -> None:
        began = wallclock.perf_counter()
        from django.db import connection

        counter = [0]

        def count(execute, sql, params, many, context):
            counter[0] += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            call(*args)
        self.timings[name] += wallclock.perf_counter() - began
        self.timings[f"q:{name}"] += counter[0]

    # ----------------------------------------------------------------------------------------- intake

    def _order(self, day: int, index: int, arrival) -> int:
        began = wallclock.perf_counter()
        channel_code = arrival.channel
        channel = self.channels[channel_code]
        name, postal, lat, lon, _ = CITIES[arrival.city]
        customer = self._rng("customer", day, index).randrange(self.params.orders_per_day * 5)
        jitter = random.Random(f"{self.params.seed}:{day}:{index}:where")
        order = orders.order_create(
            channel=channel,
            actor=orders.Actor(type="channel", label=f"{channel_code} shop"),
            data=orders.OrderInput(
                external_id=f"{channel_code.upper()}-{day:03d}-{index:05d}",
                customer=orders.CustomerInput(
                    email=f"customer{customer}@shoppers.example",
                    first_name="Customer",
                    last_name=str(customer),
                ),
                shipping_address={
                    "name": f"Customer {customer}",
                    "line1": f"Odos {jitter.randint(1, 300)}",
                    "city": name,
                    "postal_code": postal,
                    "country": "GR",
                    "latitude": f"{lat + jitter.uniform(-0.03, 0.03):.6f}",
                    "longitude": f"{lon + jitter.uniform(-0.03, 0.03):.6f}",
                },
                lines=[
                    orders.LineInput(sku=setup._sku(rank), quantity=units, unit_price=self.world.prices[rank])
                    for rank, units in arrival.lines
                ],
                currency="EUR",
                placed_at=timezone.now(),
                service_level=ServiceLevel.STANDARD,
                payment_status=PaymentStatus.PAID,
                shipping_total=SHIPPING_FEE,
                language="el",
            ),
        )
        self.tally.orders += 1
        self.watch[order.pk] = Watch(placed_at=order.placed_at, city=arrival.city, key=f"{day}:{index}")
        self.timings["intake"] += wallclock.perf_counter() - began
        if self.variant.routing == "greedy":
            self._timed("greedy", self._greedy, order, arrival.city)
        return order.pk

    def _filled_at_arrival(self, order_ids: list[int]) -> None:
        """Counts the orders of a moment's arrivals reserved in full once their events were handled
        (the rule set routes on ``order.received``; greedy reserved them at intake)."""
        self.tally.filled_at_arrival += Order.objects.filter(
            pk__in=order_ids, status=OrderStatus.ALLOCATED
        ).count()

    def _greedy(self, order: Order, city: int) -> None:
        """The baseline: each line from the nearest warehouse that has all of it (else the nearest
        that has some, and so on), decided when the order arrives and never revisited."""
        lines = list(OrderLine.objects.filter(order=order).order_by("line_number"))
        free = {
            (w, p): max(on_hand - allocated - safety, 0)
            for w, p, on_hand, allocated, safety in StockPosition.objects.filter(
                product_id__in=[ln.product_id for ln in lines], warehouse__is_active=True
            ).values_list("warehouse_id", "product_id", "on_hand", "allocated", "safety_stock")
        }
        by_distance = sorted(self.world.hubs.items(), key=lambda item: (distance_km(item[0], city), item[0]))
        plan = []
        for line in lines:
            left = line.quantity
            whole = [pk for _, pk in by_distance if free.get((pk, line.product_id), 0) >= left]
            order_of_asking = whole[:1] + [pk for _, pk in by_distance if pk not in whole[:1]]
            for warehouse_id in order_of_asking:
                take = min(left, free.get((warehouse_id, line.product_id), 0))
                if take > 0:
                    plan.append(
                        stock.PlannedPick(order_line_id=line.pk, warehouse_id=warehouse_id, quantity=take)
                    )
                    free[(warehouse_id, line.product_id)] -= take
                    left -= take
                if not left:
                    break
        stock.stock_allocate(order_id=order.pk, actor="greedy router", plan=plan)

    # --------------------------------------------------------------------------------------- the beat

    def _beat_init(self) -> None:
        from oms.celery import app

        app.loader.import_default_modules()
        app.finalize()
        for entry in app.conf.beat_schedule.values():
            task = entry["task"]
            if task in BEAT_SKIPPED:
                continue
            schedule = entry["schedule"]
            seconds = schedule if isinstance(schedule, int | float) else schedule.run_every.total_seconds()
            self.beat.append((task, BEAT_EVERY.get(task, max(float(seconds), BEAT_FLOOR_SECONDS))))

    def _run_beat(self, now: datetime) -> None:
        from oms.celery import app

        for task, seconds in self.beat:
            last = self.beat_last.get(task)
            if last is None or (now - last).total_seconds() >= seconds:
                began = wallclock.perf_counter()
                app.tasks[task].apply(throw=True)
                self._drain_outbox()  # each job's events before the next job, as the relay would
                self.timings[f"beat:{task}"] += wallclock.perf_counter() - began
                self.beat_last[task] = now

    def _fold_now(self) -> None:
        from oms.celery import app

        app.tasks["kpis.fold"].apply(throw=True)

    def _drain_outbox(self) -> None:
        while outbox_publish_pending():
            pass

    # ---------------------------------------------------------------------------- pickers and packers

    def _pick(self, hours: float) -> None:
        for warehouse_id, rate in self.world.picks_per_hour.items():
            lists = list(
                PickList.objects.filter(warehouse_id=warehouse_id, status=PickListStatus.OPEN).order_by("pk")
            )
            if not lists:
                self.budget[warehouse_id] = 0.0  # idle time is not banked
                continue
            self.budget[warehouse_id] += rate * hours
            for pick_list in lists:
                lines = list(
                    pick_list.lines.filter(status="open").select_related("order_line").order_by("pk")
                )
                units = sum(line.quantity for line in lines)
                if units > self.budget[warehouse_id]:
                    break
                self.budget[warehouse_id] -= units
                picked = {}
                for line in lines:
                    # keyed by the warehouse too: the next warehouse's shelf is another shelf
                    order_key = self._key(line.order_line.order_id)
                    draw = self._rng("short", order_key, line.order_line.line_number, warehouse_id)
                    short = line.quantity > 0 and draw.random() < SHORT_PICK
                    self.tally.short_picks += short
                    picked[line.pk] = line.quantity - short
                order_ids = sorted({line.order_line.order_id for line in lines})
                fulfilment.pick_list_confirm(pick_list_id=pick_list.pk, picked=picked, actor=ACTOR)
                for order_id in order_ids:
                    self._pack(order_id, warehouse_id)

    def _pack(self, order_id: int, warehouse_id: int) -> None:
        contents = fulfilment.packable_units(order_id=order_id, warehouse_id=warehouse_id)
        if not contents:
            return
        grams = {
            line.pk: line.product.weight_grams or 500
            for line in OrderLine.objects.filter(pk__in=contents).select_related("product")
        }
        package = fulfilment.package_create(
            order_id=order_id,
            warehouse_id=warehouse_id,
            contents=contents,
            weight_grams=150 + sum(grams[line] * units for line, units in contents.items()),
            length_mm=350,
            width_mm=250,
            height_mm=120,
            actor=ACTOR,
        )
        shipment = fulfilment.shipment_create(package_ids=[package.pk], actor=ACTOR)
        fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=ACTOR)

    def _collect(self) -> None:
        """The courier's van: every labelled parcel leaves, and its scans are drawn."""
        now = timezone.now()
        for shipment in Shipment.objects.filter(status=ShipmentStatus.LABEL_PURCHASED).order_by("pk"):
            fulfilment.shipment_hand_over(shipment_id=shipment.pk, actor=ACTOR)
            hub = self.hub_of[shipment.warehouse_id]
            city = self.watch[shipment.order_id].city
            local = timezone.localtime(now)
            script = parcel_script(
                self.carrier,
                self.params.seed,
                f"{hub}-{city}-{self._key(shipment.order_id)}",
                hub,
                city,
                local.hour + local.minute / 60,
            )
            parcel = Parcel(shipment.pk, shipment.order_id, shipment.tracking_number, now, script)
            self.parcels[shipment.pk] = parcel
            heapq.heappush(self.pushes, (now + timedelta(hours=script[0][0]), shipment.pk))
            self.tally.parcels += 1

    # ------------------------------------------------------------------------------------ the courier

    def _push_scans(self, now: datetime) -> None:
        """The courier's calls of the moment, one per parcel, each received as the API receives it;
        then processed together, as a worker takes the calls that queued up (ADR 0024)."""
        received = []
        while self.pushes and self.pushes[0][0] <= now:
            _, shipment_id = heapq.heappop(self.pushes)
            parcel = self.parcels[shipment_id]
            ready = parcel.due(now)
            if not ready:
                continue
            events = [
                _sandbox_event(code, text, parcel.shipped_at + timedelta(hours=hours))
                for hours, code, text in ready
            ]
            body = webhook_body(parcel.tracking_number, events, event_id=f"sim-{shipment_id}-{parcel.pushed}")
            headers = {"X-Sandbox-Signature": webhook_signature(body, self.secret, int(now.timestamp()))}
            delivery, new = tracking.webhook_receive(
                carrier_code=setup.CARRIER_CODE, headers=headers, body=body
            )
            if new:
                received.append(delivery.pk)
            parcel.pushed += len(ready)
            if parcel.pushed < len(parcel.script):
                following = parcel.shipped_at + timedelta(hours=parcel.script[parcel.pushed][0])
                heapq.heappush(self.pushes, (following, shipment_id))
            elif ready[-1][1] == "SBX-DL":
                self._delivered(parcel, now)
        tracking.webhooks_process(delivery_ids=received)

    def _delivered(self, parcel: Parcel, now: datetime) -> None:
        # A customer decides once per order, at its first parcel: each parcel of a split order
        # drew the same choice and asked back the same unit again.
        if parcel.order_id in self.return_decided:
            return
        self.return_decided.add(parcel.order_id)
        draw = self._rng("return", self._key(parcel.order_id))
        if draw.random() < self.customers.return_share:
            after = timedelta(days=draw.uniform(2, 10))
            self._later(now + after, "return", parcel.order_id)

    # ---------------------------------------------------------------------------------- the customers

    def _later(self, when: datetime, what: str, ident: int) -> None:
        self.seq += 1
        heapq.heappush(self.later, (when, self.seq, what, ident))

    def _customers_later(self, now: datetime) -> None:
        while self.later and self.later[0][0] <= now:
            _, _, what, ident = heapq.heappop(self.later)
            if what == "return":
                self._return_request(ident)
            elif what == "send_back":
                self._return_arrives(ident)

    def _return_request(self, order_id: int) -> None:
        order = Order.objects.get(pk=order_id)
        lines = [ln for ln in order.lines.order_by("line_number") if ln.qty_delivered > ln.qty_returned]
        if not lines or order.status not in (OrderStatus.DELIVERED, OrderStatus.PARTIALLY_RETURNED):
            return
        draw = self._rng("what back", self._key(order_id))
        line = draw.choice(lines)
        reason = draw.choices([r for r, _ in RETURN_REASONS], weights=[w for _, w in RETURN_REASONS])[0]
        try:
            with transaction.atomic():
                ret = returns.return_request(
                    channel=order.channel,
                    source=ReturnSource.CUSTOMER,
                    actor=orders.Actor.system("the customer (tracking page)"),
                    lines=[
                        returns.ReturnLineInput(
                            order_id=order.pk, line_number=line.line_number, quantity=1, reason=reason
                        )
                    ],
                )
        except (ValidationFailed, IllegalTransition) as exc:
            log.info("return refused for %s: %s %s", order.number, exc, getattr(exc, "details", ""))
            return
        self.tally.returns_requested += 1
        if ret.status == ReturnStatus.REQUESTED:
            returns.return_authorise(return_id=ret.pk, actor=ACTOR, note="ops: approved")
        self._later(timezone.now() + timedelta(days=draw.uniform(2, 5)), "send_back", ret.pk)

    def _return_arrives(self, return_id: int) -> None:
        from returns.models import Return

        ret = Return.objects.get(pk=return_id)
        if ret.status not in (ReturnStatus.AUTHORISED, ReturnStatus.LABEL_ISSUED):
            return
        lines = list(ret.lines.select_related("reason"))
        returns.return_receive(
            return_id=ret.pk,
            actor=ACTOR,
            received={rl.pk: rl.quantity for rl in lines},
            inspections=[
                returns.InspectionInput(
                    line_id=rl.pk,
                    quantity=rl.quantity,
                    grade=Grade.DAMAGED if rl.reason.code == "damaged" else Grade.GOOD,
                    disposition=Disposition.SCRAP if rl.reason.code == "damaged" else Disposition.RESTOCK,
                )
                for rl in lines
            ],
        )

    def _wismo(self, today: date) -> None:
        """At the day's end, every customer whose expected day is today and whose parcel has not come
        decides whether to ask (see ``world.Customers``)."""
        from notifications.models import Message, MessageStatus, Trigger

        waiting = Order.objects.filter(
            status__in=[
                OrderStatus.RECEIVED,
                OrderStatus.ALLOCATED,
                OrderStatus.PARTIALLY_ALLOCATED,
                OrderStatus.BACKORDERED,
                OrderStatus.IN_FULFILLMENT,
                OrderStatus.PARTIALLY_SHIPPED,
                OrderStatus.SHIPPED,
                OrderStatus.ON_HOLD,
            ],
            placed_at__lt=datetime.combine(today, time.min, tzinfo=self.zone),
        ).values_list("pk", flat=True)
        waiting = list(waiting)
        if not waiting:
            return
        promised = defaultdict(list)
        for order_id, day in Shipment.objects.filter(
            order_id__in=waiting, tracking__promised_date__isnull=False
        ).values_list("order_id", "tracking__promised_date"):
            promised[order_id].append(day)
        sent = defaultdict(list)
        for order_id, trigger, at in Message.objects.filter(
            order_id__in=waiting, status=MessageStatus.SENT
        ).values_list("order_id", "trigger", "sent_at"):
            sent[order_id].append((trigger, at))
        explains = {Trigger.DELAYED, Trigger.EXCEPTION, Trigger.DELIVERY_ATTEMPTED, Trigger.ORDER_BACKORDERED}
        for order_id in waiting:
            watch = self.watch.get(order_id)
            if watch is None:
                continue
            told = {trigger for trigger, _ in sent[order_id]}
            if Trigger.SHIPPED in told and promised[order_id]:
                expected = max(promised[order_id])
            else:
                expected = timezone.localdate(watch.placed_at) + timedelta(
                    days=self.customers.expected_days_untold
                )
            if expected > today or expected in watch.asked_on:
                continue
            day_end = datetime.combine(today, time.max, tzinfo=self.zone)
            explained = any(
                trigger in explains and at is not None and at <= day_end for trigger, at in sent[order_id]
            )
            chance = self.customers.ask_when_told if explained else self.customers.ask_when_late
            if self._rng("ask", self._key(order_id), expected).random() < chance:
                watch.asked_on.add(expected)
                self.tally.wismo += 1
                self.tally.wismo_told += explained

    # ------------------------------------------------------------------------------- ops and supplier

    def _reorder_ops(self) -> None:
        if not self.variant.reorder:
            return
        open_ids = list(Suggestion.objects.filter(status=SuggestionStatus.OPEN).values_list("pk", flat=True))
        if not open_ids:
            return
        for suggestion_id in open_ids:
            replenishment.suggestion_decide(suggestion_id=suggestion_id, approve=True, actor="ops")
        made = replenishment.suggestions_order(suggestion_ids=open_ids, actor="ops")
        for purchase_order in made.purchase_orders:
            replenishment.purchase_order_send(purchase_order_id=purchase_order.pk, actor="ops")

    def _supplier_deliveries(self, today: date) -> None:
        due = PurchaseOrder.objects.filter(
            status__in=[PurchaseOrderStatus.SENT, PurchaseOrderStatus.PARTIALLY_RECEIVED],
            sent_at__lt=datetime.combine(
                today - timedelta(days=setup.SUPPLIER_LEAD_DAYS - 1), time.min, tzinfo=self.zone
            ),
        ).order_by("pk")
        for purchase_order in due:
            lines = [
                replenishment.ReceiptLine(line_id=line.pk, quantity=line.quantity - line.received_quantity)
                for line in purchase_order.lines.filter(quantity__gt=F("received_quantity")).order_by("pk")
            ]
            if lines:
                replenishment.purchase_order_receive(
                    purchase_order_id=purchase_order.pk, lines=lines, actor="supplier"
                )
                self.tally.purchase_orders_received += 1

    def _count_stockouts(self) -> None:
        free: dict[int, int] = defaultdict(int)
        positions = 0
        empty = 0
        for product_id, on_hand, allocated in StockPosition.objects.filter(
            product_id__in=self.world.products.values(), warehouse_id__in=self.world.hubs.values()
        ).values_list("product_id", "on_hand", "allocated"):
            positions += 1
            empty += on_hand - allocated <= 0
            free[product_id] += max(on_hand - allocated, 0)
        self.tally.position_days += positions
        self.tally.stockout_position_days += empty
        self.tally.sku_days += len(self.world.products)
        stocked_out = sum(1 for pk in self.world.products.values() if free[pk] <= 0)
        self.tally.stockout_days += stocked_out
        waiting = Order.objects.filter(status__in=UNSHIPPED).count()
        self.daily.append(
            {
                "day": timezone.localdate().isoformat(),
                "orders": self.tally.orders - sum(d["orders"] for d in self.daily),
                "parcels": self.tally.parcels - sum(d["parcels"] for d in self.daily),
                "waiting_to_ship": waiting,
                "skus_out": stocked_out,
                "wismo": self.tally.wismo - sum(d["wismo"] for d in self.daily),
                # the day's wall clock: whether an order costs more as the tables grow
                "seconds": round(wallclock.perf_counter() - self.day_began, 2),
            }
        )


WORKING_START, WORKING_END = setup.WORKING_HOURS
# Orders the customer still waits to see leave (the day's backlog in the trend).
UNSHIPPED = [
    OrderStatus.RECEIVED,
    OrderStatus.ALLOCATED,
    OrderStatus.PARTIALLY_ALLOCATED,
    OrderStatus.BACKORDERED,
    OrderStatus.IN_FULFILLMENT,
    OrderStatus.ON_HOLD,
]


def _sandbox_event(code: str, text: str, at: datetime):
    from shipments.carriers.base import TrackingEvent
    from shipments.carriers.sandbox import STATUS_MAP

    milestone, incident = STATUS_MAP[code]
    return TrackingEvent(code, text, at, milestone, location="", incident=incident)


def _eager_tasks() -> None:
    """Celery tasks run in this process, in order, as soon as they are sent (the outbox's deliveries
    and the beat jobs alike)."""
    from oms.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
