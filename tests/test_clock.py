"""The suite's clock is pinned: whatever the machine's date, every test starts at CLOCK_START."""

from datetime import date, timedelta

from django.utils import timezone

from tests.clock import CLOCK_START


def test_every_test_starts_at_the_pinned_instant_and_time_still_flows():
    first = timezone.now()
    assert timedelta(0) <= first - CLOCK_START < timedelta(minutes=1)
    assert date.today() == CLOCK_START.date()
    assert timezone.now() >= first


def test_a_test_may_move_its_clock(clock):
    clock.move_to(CLOCK_START + timedelta(days=400))
    assert timezone.now().date() == (CLOCK_START + timedelta(days=400)).date()
