"""Carrier webhooks ingested in batches (a worker's, the sweep's, the simulated courier's): the same
end as one call at a time, one bad call holding no other back, two workers on the same parcels at
once, and the sweep for calls the broker never carried."""

import logging
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from oms.models import DomainEvent
from orders.models import Order, OrderStatus
from shipments import services as fulfilment
from shipments.carriers import sandbox
from shipments.carriers.base import Milestone
from shipments.models import Carrier, Shipment
from tests.factories import order_payload
from tests.test_fulfilment import OPS, network, pack, pick_everything  # noqa: F401 (fixture)
from tests.test_tracking import SECRET, event
from tracking import services as tracking
from tracking.models import EtaPrediction, TrackingEvent, TrackingState, WebhookDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandbox_webhooks(network, monkeypatch):  # noqa: F811 (fixture)
    monkeypatch.setenv("SANDBOX_WEBHOOK_SECRET", SECRET)
    Carrier.objects.filter(code="sandbox").update(options={"webhook_secret_env": "SANDBOX_WEBHOOK_SECRET"})


def parcels(api, network, count: int, prefix: str) -> list[Shipment]:  # noqa: F811 (fixture)
    """One-cap orders from Athens, each handed over in a parcel of its own and followed."""
    from routing import services as routing

    order_ids = []
    for n in range(count):
        body = order_payload(
            f"{prefix}-{n}", lines=[{"sku": "CAP-NAVY", "quantity": 1, "unit_price": "15.00"}]
        )
        order_ids.append(api.post("/api/v1/orders/", body, format="json").json()["id"])
        routing.route_order(order_id=order_ids[-1])
    pick_list = fulfilment.wave_release(warehouse_id=network["ATH"].pk, actor=OPS)
    fulfilment.pick_list_confirm(pick_list_id=pick_list.pk, picked=pick_everything(pick_list), actor=OPS)
    shipped = []
    for order_id in order_ids:
        box = pack(Order.objects.get(pk=order_id), network["ATH"], {"CAP-NAVY": 1}, weight=300)
        shipment = fulfilment.shipment_create(package_ids=[box.pk], actor=OPS)
        fulfilment.shipment_buy_labels(shipment_id=shipment.pk, actor=OPS)
        shipment = fulfilment.shipment_hand_over(shipment_id=shipment.pk, actor=OPS)
        tracking.tracking_start(shipment_id=shipment.pk)
        shipped.append(shipment)
    return shipped


def stored_call(shipment: Shipment, event_id: str, *codes_and_hours) -> int:
    body = sandbox.webhook_body(
        shipment.tracking_number,
        [event(code, hours, shipped_at=shipment.shipped_at) for code, hours in codes_and_hours],
        event_id=event_id,
    )
    headers = {
        "X-Sandbox-Signature": sandbox.webhook_signature(body, SECRET, int(timezone.now().timestamp()))
    }
    delivery, new = tracking.webhook_receive(carrier_code="sandbox", headers=headers, body=body)
    assert new
    return delivery.pk


def state_of(shipment: Shipment) -> tuple:
    state = TrackingState.objects.get(shipment=shipment)
    return (
        state.milestone,
        state.last_event_at and state.last_event_at - shipment.shipped_at,
        state.predicted_date - timezone.localdate(shipment.shipped_at),
        state.is_active,
        TrackingEvent.objects.filter(shipment=shipment).count(),
    )


SCRIPTS = [
    [("SBX-PU", 0), ("SBX-IT", 6)],
    [("SBX-PU", 0), ("SBX-IT", 6), ("SBX-OFD", 26)],
    [("SBX-PU", 0)],
]


def test_a_batch_of_calls_ends_where_the_same_calls_one_at_a_time_end(sandbox_webhooks, api, network):  # noqa: F811
    one_by_one, together = parcels(api, network, 3, "ONE"), parcels(api, network, 3, "BATCH")
    for n, shipment in enumerate(one_by_one):
        for step, (code, hours) in enumerate(SCRIPTS[n]):
            tracking.webhook_process(delivery_id=stored_call(shipment, f"one-{n}-{step}", (code, hours)))
    milestones_before = DomainEvent.objects.filter(name="tracking.milestone").count()

    calls = [
        stored_call(shipment, f"batch-{n}-{step}", (code, hours))
        for n, shipment in enumerate(together)
        for step, (code, hours) in enumerate(SCRIPTS[n])
    ]
    # the carrier sending a call again under another id, a number we never shipped, a body it never sends
    calls.append(stored_call(together[1], "batch-again", ("SBX-IT", 6)))
    calls.append(stored_call(together[0], "batch-stranger", ("SBX-PU", 0)))
    WebhookDelivery.objects.filter(external_id="batch-stranger").update(
        body=WebhookDelivery.objects.get(external_id="batch-stranger").body.replace(
            together[0].tracking_number, "NOT-OURS-1"
        )
    )
    unreadable = WebhookDelivery.objects.create(
        carrier=Carrier.objects.get(code="sandbox"), external_id="batch-unreadable", body='{"id": "x"}'
    )
    new = tracking.webhooks_process(delivery_ids=[unreadable.pk, *reversed(calls)])

    assert new == sum(len(script) for script in SCRIPTS)
    assert [state_of(s) for s in together] == [state_of(s) for s in one_by_one]
    assert [state_of(s)[0] for s in together] == [
        Milestone.IN_TRANSIT,
        Milestone.OUT_FOR_DELIVERY,
        Milestone.PICKED_UP,
    ]
    statuses = dict(
        WebhookDelivery.objects.filter(external_id__startswith="batch").values_list("external_id", "status")
    )
    assert statuses.pop("batch-unreadable") == "failed"
    assert set(statuses.values()) == {"processed"}
    # a parcel's calls in one batch are one step, as if they came in one call: its newest milestone
    emitted = DomainEvent.objects.filter(name="tracking.milestone").order_by("pk")[milestones_before:]
    assert [(e.payload["shipment_id"], e.payload["milestone"]) for e in emitted] == [
        (s.pk, state_of(s)[0]) for s in together
    ]
    assert tracking.webhooks_process(delivery_ids=calls) == 0  # processed already: nothing again


def test_a_call_that_keeps_failing_holds_no_other_call_back(sandbox_webhooks, api, network, caplog):  # noqa: F811
    good, bad, other = parcels(api, network, 3, "POISON")
    # PostgreSQL refusing one parcel's events, as a corrupt index or a full disk would
    with connection.cursor() as cursor:
        cursor.execute(
            f"""CREATE FUNCTION refuse_parcel() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.tracking_number = '{bad.tracking_number}' THEN
                        RAISE EXCEPTION 'refused';
                    END IF;
                    RETURN NEW;
                END $$;
            CREATE TRIGGER refuse_parcel BEFORE INSERT ON tracking_trackingevent
                FOR EACH ROW EXECUTE FUNCTION refuse_parcel();"""
        )
    calls = [stored_call(s, f"poison-{s.pk}", ("SBX-PU", 0), ("SBX-IT", 5)) for s in (good, bad, other)]
    with caplog.at_level(logging.WARNING, logger="tracking.services"):
        assert tracking.webhooks_process(delivery_ids=calls) == 4
    assert "taking them one at a time" in caplog.text
    assert f"carrier webhook {calls[1]} failed" in caplog.text
    assert [state_of(s)[0] for s in (good, bad, other)] == [
        Milestone.IN_TRANSIT,
        Milestone.LABEL_CREATED,
        Milestone.IN_TRANSIT,
    ]
    assert list(
        WebhookDelivery.objects.filter(pk__in=calls).order_by("pk").values_list("status", flat=True)
    ) == [
        "processed",
        "pending",
        "processed",
    ]

    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER refuse_parcel ON tracking_trackingevent; DROP FUNCTION refuse_parcel()")
    later = timezone.now() + timedelta(seconds=61)
    assert tracking.webhooks_sweep(now=later) == 1
    assert state_of(bad)[0] == Milestone.IN_TRANSIT
    assert WebhookDelivery.objects.get(pk=calls[1]).status == "processed"


def test_the_sweep_takes_only_calls_that_waited_a_sweep_period(sandbox_webhooks, api, network, settings):  # noqa: F811
    settings.TRACKING_WEBHOOK_SWEEP_SECONDS = 60
    (shipment,) = parcels(api, network, 1, "SWEEP")
    call = stored_call(shipment, "sweep-1", ("SBX-PU", 0))
    received = WebhookDelivery.objects.get(pk=call).received_at
    assert tracking.webhooks_sweep(now=received + timedelta(seconds=59)) == 0  # its task may be on it
    assert WebhookDelivery.objects.get(pk=call).status == "pending"
    assert tracking.webhooks_sweep(now=received + timedelta(seconds=61)) == 1
    assert WebhookDelivery.objects.get(pk=call).status == "processed"
    assert tracking.webhooks_sweep(now=received + timedelta(seconds=120)) == 0

    # a backlog longer than a page (Redis was down for a while): one run goes through all of it
    backlog = [stored_call(shipment, f"backlog-{n}", (code, n)) for n, code in enumerate(["SBX-IT"] * 5, 1)]
    later = WebhookDelivery.objects.get(pk=backlog[-1]).received_at + timedelta(seconds=61)
    assert tracking.webhooks_sweep(now=later, page=2) == 5
    assert set(WebhookDelivery.objects.filter(pk__in=backlog).values_list("status", flat=True)) == {
        "processed"
    }
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 6


@pytest.mark.django_db(transaction=True)
def test_two_workers_on_the_same_parcels_at_once_store_each_event_once_and_deliver_each_once(
    sandbox_webhooks,
    api,
    network,  # noqa: F811
    caplog,
):
    """Worker A has each parcel's first scans, worker B their delivery scans, and both are also handed
    the other's calls (a sweep taking what a task has): the parcels' states are locked in one order
    by both, so neither waits on the other in a circle, and no call is processed twice."""
    shipments = parcels(api, network, 6, "RACE")
    first = [stored_call(s, f"race-a-{s.pk}", ("SBX-PU", 0), ("SBX-IT", 5)) for s in shipments]
    last = [stored_call(s, f"race-b-{s.pk}", ("SBX-OFD", 20), ("SBX-DL", 22)) for s in shipments]
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def worker(ids: list[int]) -> None:
        try:
            barrier.wait()
            outcomes.append(tracking.webhooks_process(delivery_ids=ids))
        except BaseException as exc:  # anything but an answer fails the test
            outcomes.append(exc)
        finally:
            connections.close_all()

    with caplog.at_level(logging.WARNING, logger="tracking.services"):
        threads = [
            threading.Thread(target=worker, args=(first + last,)),
            threading.Thread(target=worker, args=(last[::-1] + first,)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert all(isinstance(outcome, int) for outcome in outcomes), outcomes
    assert sum(outcomes) == 4 * len(shipments)  # each event stored by one of them
    assert "one at a time" not in caplog.text  # no batch failed (a deadlock would have)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"processed"}
    assert {state_of(s)[0] for s in shipments} == {Milestone.DELIVERED}
    assert set(
        Order.objects.filter(pk__in=[s.order_id for s in shipments]).values_list("status", flat=True)
    ) == {OrderStatus.DELIVERED}
    assert DomainEvent.objects.filter(name="shipment.delivered").count() == len(shipments)


def test_a_parcel_later_in_a_batch_sees_the_lanes_deliveries_made_earlier_in_it(
    sandbox_webhooks,
    api,
    network,  # noqa: F811 (fixture)
):
    """The batch asks for a lane's history once, and asks again after a parcel of the lane arrived."""
    first, *arriving, last = parcels(api, network, 7, "LANE")  # one lane: Athens to postal region 10
    calls = [stored_call(first, "lane-first", ("SBX-PU", 0))]
    calls += [stored_call(s, f"lane-{s.pk}", ("SBX-PU", 0), ("SBX-DL", 30)) for s in arriving]
    calls.append(stored_call(last, "lane-last", ("SBX-PU", 0)))
    tracking.webhooks_process(delivery_ids=calls)
    assert {state_of(s)[0] for s in arriving} == {Milestone.DELIVERED}
    bases = {s.pk: EtaPrediction.objects.filter(shipment=s).latest("pk").basis for s in (first, last)}
    assert bases[first.pk].startswith("carrier estimate (lane has 0 deliveries)")
    assert bases[last.pk].startswith(f"lane of {len(arriving)} deliveries")


def test_a_call_waiting_too_long_is_on_every_page_and_ops_process_it_once_fixed(
    sandbox_webhooks,
    api,
    network,  # noqa: F811 (fixture)
    ops_client,
    clock,
):
    (shipment,) = parcels(api, network, 1, "WAITING")
    with connection.cursor() as cursor:
        cursor.execute(
            """CREATE FUNCTION refuse_all() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'disk full'; END $$;
            CREATE TRIGGER refuse_all BEFORE INSERT ON tracking_trackingevent
                FOR EACH ROW EXECUTE FUNCTION refuse_all();"""
        )
    call = stored_call(shipment, "waiting-1", ("SBX-PU", 0), ("SBX-IT", 5))
    with pytest.raises(Exception, match="disk full"):
        tracking.webhook_process(delivery_id=call)  # the task fails; Celery tries it again later
    stored = WebhookDelivery.objects.get(pk=call)
    assert stored.status == "pending" and "disk full" in stored.error

    assert "carrier call" not in ops_client.get("/dashboard/").content.decode()  # its task may retry it
    clock.move_to(timezone.now() + timedelta(minutes=11))
    assert tracking.webhooks_sweep() == 1  # the sweep tries it, records the error, and does not raise
    assert WebhookDelivery.objects.get(pk=call).status == "pending"
    banner = "1 carrier call not processed for over 10 minutes"
    assert banner in ops_client.get("/dashboard/").content.decode()
    page = ops_client.get("/dashboard/tracking/").content.decode()
    assert 'id="carrier-calls"' in page and "waiting-1" in page and "disk full" in page

    # still failing: ops are told so, and it stays
    response = ops_client.post("/dashboard/tracking/calls/retry/", {"call": [call]}, follow=True)
    assert "1 still failing" in response.content.decode()
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER refuse_all ON tracking_trackingevent; DROP FUNCTION refuse_all()")
    response = ops_client.post("/dashboard/tracking/calls/retry/", {"call": [call]}, follow=True)
    assert "1 carrier call processed." in response.content.decode()
    assert state_of(shipment)[0] == Milestone.IN_TRANSIT
    assert banner not in ops_client.get("/dashboard/").content.decode()
    assert 'id="carrier-calls"' not in ops_client.get("/dashboard/tracking/").content.decode()
