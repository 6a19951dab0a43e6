"""The sandbox carrier: the same answers every time, and a tracking script that unfolds with time."""

from datetime import timedelta
from decimal import Decimal

import pytest

from shipments.carriers.base import CarrierError, Milestone, ParcelRequest, Party
from shipments.carriers.sandbox import SandboxAdapter, tracking_number_for
from tests.clock import CLOCK_START

SHIPPED = CLOCK_START  # a Wednesday: two working days later is the Friday
PARTY = Party(name="A", line1="Street 1", city="Athens", postal_code="104 34", country="GR")


def request(reference="SH-0000012/1", weight=1200, service="standard"):
    return ParcelRequest(reference, PARTY, PARTY, weight, 300, 200, 100, service)


def test_a_retried_purchase_gets_the_same_tracking_number_and_price():
    sandbox = SandboxAdapter(today=SHIPPED.date())
    first = sandbox.buy(sandbox.prepare(request()), request())
    again = sandbox.buy(sandbox.prepare(request()), request())
    assert first == again
    assert first.tracking_number == tracking_number_for("SH-0000012/1") == "SBX0000000001218"
    assert (str(first.cost), first.currency, first.estimated_delivery) == (
        "6.30",
        "EUR",
        SHIPPED.date() + timedelta(days=2),
    )
    assert {rate.service_code for rate in sandbox.quote(request())} == {"economy", "standard", "express"}


def test_zone_surcharges_price_a_lane_by_its_longest_matching_prefixes():
    far = Party(name="B", line1="Odos 2", city="Heraklion", postal_code="712 02", country="GR")
    sandbox = SandboxAdapter(
        {"zone_surcharges": [["", "7", "1.00"], ["104", "71", "2.50", 1], ["546", "", "0.40"]]},
        today=SHIPPED.date(),
    )
    to_crete = ParcelRequest("SH-1/1", PARTY, far, 1200, 300, 200, 100, "standard")
    # 4.50 + 2 started kg x 0.90, plus the Athens-to-Heraklion pair (longer than the "to 7" one)
    bought = sandbox.buy(sandbox.prepare(to_crete), to_crete)
    assert bought.cost == Decimal("8.80")
    # and its extra day at sea goes into the estimate
    assert bought.estimated_delivery == SHIPPED.date() + timedelta(days=3)
    assert {r.service_code: r.amount for r in sandbox.quote(to_crete)}["standard"] == Decimal("8.80")
    # no pair matches Athens to Athens: the plain table price and the service's days
    local = sandbox.buy(sandbox.prepare(request()), request())
    assert (local.cost, local.estimated_delivery) == (Decimal("6.30"), SHIPPED.date() + timedelta(days=2))


def test_it_refuses_what_it_cannot_carry():
    with pytest.raises(CarrierError, match="30 kg"):
        SandboxAdapter().prepare(request(weight=31_000))
    with pytest.raises(CarrierError) as error:
        SandboxAdapter().prepare(request(service="overnight"))
    assert error.value.code == "service_unknown"


def milestones(tracking_number, hours, **options):
    tracking = SandboxAdapter(options).track(
        tracking_number, shipped_at=SHIPPED, now=SHIPPED + timedelta(hours=hours)
    )
    return [event.milestone for event in tracking.events]


def test_tracking_follows_the_script_as_time_passes():
    number = "SBX0000000001210"  # 121: neither a 5th nor a 7th parcel
    assert milestones(number, 1) == [Milestone.PICKED_UP]
    assert milestones(number, 31) == [
        Milestone.PICKED_UP,
        Milestone.IN_TRANSIT,
        Milestone.ARRIVED_AT_HUB,
        Milestone.OUT_FOR_DELIVERY,
    ]
    assert milestones(number, 40)[-1] == Milestone.DELIVERED
    # the demo's scale: hours become minutes
    assert milestones(number, 40 / 60, time_scale=1 / 60)[-1] == Milestone.DELIVERED


def test_some_parcels_fail_an_attempt_or_meet_weather():
    assert Milestone.ATTEMPTED_DELIVERY in milestones("SBX0000000001200", 60)  # 120: every 5th
    weather = SandboxAdapter().track(
        "SBX0000000001190", shipped_at=SHIPPED, now=SHIPPED + timedelta(hours=60)
    )
    exception = next(e for e in weather.events if e.milestone == Milestone.EXCEPTION)  # 119: every 7th
    assert exception.incident == "weather"
    assert weather.events[-1].milestone == Milestone.DELIVERED
