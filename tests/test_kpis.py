"""The KPIs on a history built by hand through the real pipeline (orders from the API, routing,
picking, packing, labels, carrier events), with every expected figure worked out here from the
timestamps the test sets: the merchant's days in Athens (an event at 23:30 UTC counts on the next
day), split and partly delivered orders, a cancelled and a backordered order, a return for damage,
a late carrier event that corrects its own day; and the incremental fold equal to a rebuild."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from kpis import services as kpis
from kpis.definitions import BY_CODE, Span, orders_behind
from kpis.models import DailyFigure, Grain, HandlingCost
from kpis.selectors import Filters, kpi_sum
from orders import services as orders
from orders.models import Order, Product
from routing import services as routing
from shipments import services as fulfilment
from shipments.carriers.base import Tracking
from shipments.models import Shipment
from tests.clock import CLOCK_START, at, iso
from tests.factories import order_payload
from tests.returns_world import _event
from tests.test_fulfilment import OPS, network, pack, pick_everything  # noqa: F401 (fixture)
from tests.test_notifications import smtp  # noqa: F401 (fixture)
from tracking import services as tracking
from tracking.models import EtaPrediction

pytestmark = pytest.mark.django_db

# The tests' clock starts on Wednesday 25 November, 09:00 UTC (11:00 in Athens): day one. Day two is
# the 26th in Athens.
DAY_ONE = CLOCK_START.date()  # 11:00 in Athens: the same day
DAY_TWO = DAY_ONE + timedelta(days=1)


def caps(external_id: str, units: int, *, placed, promised_by, sku: str = "CAP-NAVY") -> dict:
    return order_payload(
        external_id,
        lines=[{"sku": sku, "quantity": units, "unit_price": "15.00"}],
        placed_at=iso(placed, offset_hours=2),
        requested_delivery_window={
            "start": iso(promised_by - timedelta(hours=4), offset_hours=2),
            "end": iso(promised_by, offset_hours=2),
        },
    )


def place(api, body) -> Order:
    response = api.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201, response.json()
    return Order.objects.get(pk=response.json()["id"])


def fulfil(order: Order, athens, packages: list[int]) -> list[int]:
    """Picked at Athens and packed in parcels of these many caps, each its own shipment, handed over."""
    pick_list = fulfilment.wave_release(warehouse_id=athens.pk, actor=OPS)
    fulfilment.pick_list_confirm(pick_list_id=pick_list.pk, picked=pick_everything(pick_list), actor=OPS)
    shipment_ids = []
    for units in packages:
        box = pack(order, athens, {"CAP-NAVY": units})
        shipment = fulfilment.shipment_create(package_ids=[box.pk], actor=OPS)
        fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=OPS)
        shipment = fulfilment.shipment_hand_over(shipment_id=shipment.pk, actor=OPS)
        tracking.tracking_start(shipment_id=shipment.pk)
        shipment_ids.append(shipment.pk)
    return shipment_ids


def carrier(clock, shipment_id: int, events: list[tuple[str, object]], *, received) -> None:
    """The carrier's events for one parcel, stored at ``received`` (the clock moves there)."""
    clock.move_to(received)
    number = Shipment.objects.get(pk=shipment_id).tracking_number
    tracking.events_ingest(
        shipment_id=shipment_id,
        tracking=Tracking(number, tuple(_event(code, occurred) for code, occurred in events)),
        source="webhook",
        now=received,
    )


@pytest.fixture
def history(api, network, settings, clock):  # noqa: F811 (the network fixture)
    """What happened, by hand (UTC times; Athens is two hours ahead):

    A: placed 24 Nov, one cap, promised by the 27th; picked up 10:00, delivered 15:00 on the 25th
       (events received at 15:01).
    B: placed 24 Nov, one cap, promised by the 24th (already late); a failed attempt at 12:00, then
       delivered at 23:30 on the 25th: 01:30 on the 26th in Athens, so day two.
    C: placed 24 Nov, one cap, promised by the 27th; delivered 16:00 on the 25th, then sent back for
       damage.
    D: placed 24 Nov, two caps in two parcels, promised by the 26th; the first delivered 14:00 on the
       25th, the second at 10:00 on the 26th, on the promised day: on time (the order is delivered on
       day two).
    E: placed 25 Nov, cancelled before routing.    F: placed 25 Nov, a SKU out of stock: backordered.
    """
    settings.TIME_ZONE = "Europe/Athens"
    athens = network["ATH"]
    HandlingCost.objects.create(
        warehouse=athens, valid_from=DAY_ONE - timedelta(days=24), per_shipment=Decimal("1.50")
    )
    placed = at(days=-1, hours=-1)  # 24 Nov 08:00 UTC
    good, late = at(days=2), at(days=-1, hours=6)  # promised by the 27th / by the 24th 15:00 UTC
    on_the_day = at(days=1, hours=10)  # by 21:00 on the 26th in Athens
    a = place(api, caps("KPI-A", 1, placed=placed, promised_by=good))
    b = place(api, caps("KPI-B", 1, placed=placed, promised_by=late))
    c = place(api, caps("KPI-C", 1, placed=placed, promised_by=good))
    d = place(api, caps("KPI-D", 2, placed=placed, promised_by=on_the_day))
    e = place(api, caps("KPI-E", 1, placed=at(minutes=30), promised_by=good))
    orders.order_cancel(order_id=e.pk, reason="customer changed their mind", actor=OPS)
    Product.objects.create(sku="MUG-RED", name="Red mug")
    f = place(api, caps("KPI-F", 1, placed=at(minutes=30), promised_by=good, sku="MUG-RED"))
    shipments = {}
    for order, parcels in ((a, [1]), (b, [1]), (c, [1]), (d, [1, 1])):
        routing.route_order(order_id=order.pk)  # 25 Nov, 11:00 in Athens: day one
        shipments[order.external_id] = fulfil(order, athens, parcels)
    routing.route_order(order_id=f.pk)
    (sa,), (sb,), (sc,), (sd1, sd2) = (shipments[k] for k in ("KPI-A", "KPI-B", "KPI-C", "KPI-D"))
    carrier(clock, sa, [("SBX-PU", at(hours=1)), ("SBX-DL", at(hours=6))], received=at(hours=6, minutes=1))
    carrier(clock, sd1, [("SBX-PU", at(hours=1)), ("SBX-DL", at(hours=5))], received=at(hours=6, minutes=2))
    carrier(clock, sc, [("SBX-PU", at(hours=1)), ("SBX-DL", at(hours=7))], received=at(hours=7))
    carrier(
        clock,
        sb,
        [("SBX-NH", at(hours=3)), ("SBX-DL", at(hours=14, minutes=30))],
        received=at(hours=14, minutes=31),
    )
    carrier(
        clock, sd2, [("SBX-PU", at(hours=2)), ("SBX-DL", at(days=1, hours=1))], received=at(days=1, hours=1)
    )
    clock.move_to(at(days=1, hours=2))
    damaged = returns_for_damage(api, c)
    return {
        "orders": {o.external_id: o for o in (a, b, c, d, e, f)},
        "shipments": [sa, sb, sc, sd1, sd2],
        "return": damaged,
    }


def returns_for_damage(api, order: Order):
    line = order.lines.get()
    response = api.post(
        "/api/v1/returns/",
        {
            "credit_method": "refund",
            "lines": [
                {"order_id": order.pk, "line_number": line.line_number, "quantity": 1, "reason": "damaged"}
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def figure(code: str, day: date, **filters) -> tuple[Decimal, Decimal]:
    return kpi_sum(BY_CODE[code], day, day, Filters(**filters))


def test_every_kpi_counts_what_its_definition_says_on_the_merchants_day(history):
    kpis.figures_fold()
    orders = history["orders"]
    assert figure("orders", DAY_ONE - timedelta(days=1)) == (4, 4)
    assert figure("orders", DAY_ONE) == (2, 2)
    # A, B, C, D fully reserved at their first routing, F backordered; E never routed
    assert figure("fill_rate", DAY_ONE) == (4, 5)
    # shipments delivered with a promise: A, C and D's first parcel on day one (all on time); B (late:
    # promised by the 24th) and D's second parcel on day two
    assert figure("on_time", DAY_ONE) == (3, 3)
    assert figure("on_time", DAY_TWO) == (1, 2)
    assert figure("first_attempt", DAY_TWO) == (1, 2)  # B needed a second attempt
    assert figure("events_per_shipment", DAY_ONE) == (6, 3)
    # latency, each event's gap between happening and being stored, over the events stored on day one:
    # A's pick-up 5 h 1 min and delivery 1 min, D's first parcel 5 h 2 min and 1 h 2 min, C's 6 h and 0
    lag_one = [18060, 60, 18120, 3720, 21600, 0]
    number, count = figure("update_latency", DAY_ONE)
    assert (number, count) == (sum(lag_one), 6)
    # cycle time: A delivered (its last unit) at 15:01 UTC on the 25th, C at 16:00; both placed on the
    # 24th at 08:00 UTC: 31.0167 h and 32 h
    hours, delivered = figure("cycle_time", DAY_ONE)
    assert delivered == 2 and abs(hours - Decimal("63.0167")) < Decimal("0.01")
    # perfect orders: A yes; C sent back for damage. Day two: B late, D perfect
    assert figure("perfect_order", DAY_ONE) == (1, 2)
    assert figure("perfect_order", DAY_TWO) == (1, 2)
    # units asked back against units delivered, by the day the order was delivered
    assert figure("return_rate", DAY_ONE) == (1, 2)
    assert figure("return_rate", DAY_TWO) == (0, 3)
    # cost: the sandbox's label prices plus 1.50 handling per shipment at Athens
    labels = sum(
        Shipment.objects.filter(pk__in=history["shipments"][2:4] + history["shipments"][:1]).values_list(
            "cost", flat=True
        )
    )
    assert figure("cost_per_delivery", DAY_ONE) == (labels + Decimal("4.50"), 3)
    # ETA accuracy: each delivered shipment's first prediction
    first = [EtaPrediction.objects.filter(shipment_id=s).order_by("pk").first() for s in history["shipments"]]
    day_one = [p for p in first if p.actual_date == DAY_ONE]
    assert figure("eta_accuracy", DAY_ONE) == (sum(p.inside_window for p in day_one), 3)
    # the same sums by channel, warehouse and carrier (one of each here)
    shipment = Shipment.objects.select_related("service").get(pk=history["shipments"][1])
    for dims in (
        {"channel_id": orders["KPI-B"].channel_id},
        {"warehouse_id": shipment.warehouse_id},
        {"carrier_id": shipment.service.carrier_id},
        {"channel_id": orders["KPI-B"].channel_id, "warehouse_id": shipment.warehouse_id},
    ):
        assert figure("on_time", DAY_TWO, **dims) == (1, 2), dims
    assert figure("on_time", DAY_TWO, channel_id=orders["KPI-B"].channel_id + 1000) == (0, 0)


def all_figures() -> list[tuple]:
    return sorted(
        DailyFigure.objects.values_list(
            "day",
            "kpi",
            "grain",
            "channel_id",
            "warehouse_id",
            "carrier_id",
            "country",
            "numerator",
            "denominator",
        )
    )


def test_a_late_event_corrects_its_own_day_and_the_fold_equals_a_rebuild(history, clock):
    assert kpis.figures_fold().rows > 0
    folded = all_figures()
    assert kpis.figures_fold().figures == 0 or all_figures() == folded  # nothing new: nothing changes
    # A's carrier sends an in-transit scan from day one, two days late (received on the 27th)
    sa = history["shipments"][0]
    carrier(clock, sa, [("SBX-IT", at(hours=2))], received=at(days=2))
    clock.move_to(at(days=2, minutes=5))  # past the settling time: the fold may move on
    kpis.figures_fold()
    assert figure("events_per_shipment", DAY_ONE) == (7, 3)  # its own day, not the day it arrived
    assert figure("update_latency", DAY_ONE + timedelta(days=2)) == (46 * 3600, 1)  # received on the 27th
    assert all_figures() != folded
    incremental = all_figures()
    call_command("kpis_rebuild", stdout=__import__("io").StringIO())
    assert all_figures() == incremental
    # and the rebuild left the cursors at the ends: a fold after it finds nothing new
    assert kpis.figures_fold().rows == 0


def test_rows_too_young_to_have_settled_are_read_again_not_lost(history, clock):
    """The cursor passes only rows older than SETTLE: a transaction that took an earlier id and
    commits later is still folded."""
    clock.move_to(at(days=1, hours=2, minutes=1))  # the return (at +1 day 2 h) is younger than SETTLE
    first = kpis.figures_fold()
    again = kpis.figures_fold()
    assert again.rows > 0 and again.rows < first.rows  # the young rows, read again
    clock.move_to(at(days=1, hours=3))
    kpis.figures_fold()
    assert kpis.figures_fold().rows == 0


def test_the_drill_down_lists_the_orders_behind_a_figure(history):
    orders = history["orders"]
    day_two = Span(DAY_TWO, DAY_TWO)
    on_time = BY_CODE["on_time"]
    assert set(orders_behind(on_time, day_two)) == {orders["KPI-B"], orders["KPI-D"]}
    assert set(orders_behind(on_time, day_two, missed=True)) == {orders["KPI-B"]}
    perfect = BY_CODE["perfect_order"]
    assert set(orders_behind(perfect, Span(DAY_ONE, DAY_ONE), missed=True)) == {orders["KPI-C"]}
    assert set(orders_behind(BY_CODE["fill_rate"], Span(DAY_ONE, DAY_ONE), missed=True)) == {orders["KPI-F"]}
    assert set(orders_behind(BY_CODE["orders"], Span(DAY_ONE, DAY_ONE))) == {orders["KPI-E"], orders["KPI-F"]}
    assert set(orders_behind(BY_CODE["return_rate"], Span(DAY_ONE, DAY_ONE), missed=True)) == {
        orders["KPI-C"]
    }


def test_a_threshold_alerts_once_per_crossing_and_notices_the_recovery(db, settings, mailoutbox, ops_client):
    """On-time delivery must stay at 85 % or more; an alert closes at 95 %. The figure of each day
    (a window of one day) wobbles around the line: one alert, one recovery, then a second crossing."""
    from kpis.models import AlertStatus, KpiAlert, Threshold
    from oms.events import outbox_publish_pending
    from oms.models import DomainEvent

    settings.KPI_ALERT_RECIPIENTS = ["ops@merchant.example"]

    threshold = Threshold.objects.create(
        kpi="on_time",
        direction="below",
        alert_at=Decimal("0.85"),
        recover_at=Decimal("0.95"),
        window_days=1,
        min_count=10,
    )
    days = [
        (80, 100, "raised"),
        (90, 100, ""),  # between the lines: still open
        (84, 100, ""),  # below again: the same alert, not a new one
        (4, 5, ""),  # too few shipments for a verdict (and 80 % would not recover it)
        (96, 100, "recovered"),
        (90, 100, ""),  # above the alert line: nothing
        (70, 100, "raised"),
    ]
    seen = []
    for n, (hit, count, _) in enumerate(days):
        day = DAY_ONE + timedelta(days=n)
        DailyFigure.objects.create(day=day, kpi="on_time", grain=Grain.ALL, numerator=hit, denominator=count)
        outcome = kpis.thresholds_evaluate(today=day)
        seen.append("raised" if outcome.raised else "recovered" if outcome.recovered else "")
    assert seen == [expected for _, _, expected in days]
    alerts = list(KpiAlert.objects.filter(threshold=threshold).order_by("pk"))
    assert [a.status for a in alerts] == [AlertStatus.RECOVERED, AlertStatus.OPEN]
    assert alerts[0].value == Decimal("0.8") and alerts[0].recovered_value == Decimal("0.96")
    assert alerts[0].window_start == DAY_ONE and alerts[1].window_start == DAY_ONE + timedelta(days=6)
    names = list(
        DomainEvent.objects.filter(aggregate_type="kpi_alert").order_by("pk").values_list("name", flat=True)
    )
    assert names == ["kpi.alert_raised", "kpi.alert_recovered", "kpi.alert_raised"]
    # the ops list heard of each, from the notifications worker's handler of these events
    outbox_publish_pending()
    assert [m.subject for m in mailoutbox] == [
        "[OMS] On-time delivery (every order) at 80.0 %, below its line of 85.0 %",
        "[OMS] Recovered: On-time delivery (every order) is back at 96.0 %",
        "[OMS] On-time delivery (every order) at 70.0 %, below its line of 85.0 %",
    ]
    assert mailoutbox[0].to == ["ops@merchant.example"] and "/dashboard/kpis/alerts/" in mailoutbox[0].body
    # every dashboard page says an alert is open, and the KPI page names it
    page = ops_client.get("/dashboard/orders/").content.decode()
    assert (
        '<p class="banner" role="status"><a href="/dashboard/kpis/alerts/">1 KPI alert open: see which</a>'
        in page
    )
    home = ops_client.get("/dashboard/kpis/").content.decode()
    assert (
        "<strong>On-time delivery</strong> (every order) at <strong>70.0 %</strong>, below its line of 85.0 %"
        in home
    )
    listed = ops_client.get("/dashboard/kpis/alerts/").content.decode()
    assert (
        listed.count('<span class="badge ok">Recovered</span>') == 1
        and listed.count('<span class="badge warn">Open</span>') == 1
    )


def test_email_open_and_click_rates_count_each_message_once_on_the_day_it_was_sent(
    api,
    network,  # noqa: F811 (fixture)
    smtp,  # noqa: F811 (fixture)
    client,
    clock,
):
    """Through the real messages: an order confirmed and shipped (two e-mails), the shipping
    e-mail opened twice; the fold counts one open of two sent, then a click folded later corrects
    the day the e-mail was sent, not the day of the click."""
    import re

    from notifications.models import Message, Trigger
    from tests.returns_world import shipped_order
    from tests.test_notifications import CUSTOMER, send_due

    shipped_order(api, network, "MAIL-1")
    send_due()
    sent_day = timezone.localdate()
    assert Message.objects.filter(medium="email", status="sent").count() == 2
    html = smtp.to(CUSTOMER)[1].get_body(("html",)).get_content()
    pixel = re.search(r'src="http://127\.0\.0\.1:8000(/n/o/[^"]+)"', html).group(1)
    client.get(pixel)
    client.get(pixel)
    kpis.figures_fold()
    assert figure("open_rate", sent_day) == (1, 2) and figure("click_rate", sent_day) == (0, 2)
    shipped = Message.objects.get(trigger=Trigger.SHIPPED)
    link = re.search(r'href="http://127\.0\.0\.1:8000(/n/c/[^"]+)"', html).group(1)
    clock.shift(timedelta(days=2))
    client.get(link)
    assert Message.objects.get(pk=shipped.pk).clicked_at is not None
    clock.shift(timedelta(minutes=5))
    kpis.figures_fold()
    assert figure("click_rate", sent_day) == (1, 2)


@pytest.mark.django_db(transaction=True)
def test_two_folds_at_once_on_their_own_connections_write_each_figure_once(history, clock):
    """Beat can start a fold while the last still runs: each locks the cursors, so one waits and then
    finds nothing new; no day's rows are deleted twice and inserted twice."""
    import threading

    from django.db import connection

    clock.move_to(at(days=2))  # every row settled
    kpis.figures_fold()  # the cursors exist and the history is folded
    # new rows for both folds to find: a late scan of A's parcel, and B's, a day later
    for shipment_id in history["shipments"][:2]:
        carrier(clock, shipment_id, [("SBX-IT", at(hours=2))], received=at(days=2, hours=1))
    clock.move_to(at(days=2, hours=2))
    start = threading.Barrier(2)
    errors: list[BaseException] = []
    read: list[int] = []

    def fold() -> None:
        try:
            start.wait()
            read.append(kpis.figures_fold().rows)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=fold) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert sorted(read)[0] == 0 and sorted(read)[1] > 0  # one folded everything, the other nothing
    keys = [row[:7] for row in all_figures()]
    assert len(keys) == len(set(keys))  # each (day, KPI, grain, dimensions) once
    folded = all_figures()
    kpis.figures_rebuild()
    assert all_figures() == folded
