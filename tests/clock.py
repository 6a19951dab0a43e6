"""The tests' clock: every test starts at the same instant, whatever the date of the machine.

Dates in fixtures and assertions are built from ``CLOCK_START`` (or ``timezone.now()`` inside a test),
never written as literals, so the suite gives the same answers on any day. The instant is a Wednesday
morning in UTC, so that "today", "in two working days" and cut-off times mean the same in every run.
"""

from datetime import UTC, datetime, timedelta, timezone

CLOCK_START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def at(days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
    """The instant this far from the start of the tests' clock (negative: before it)."""
    return CLOCK_START + timedelta(days=days, hours=hours, minutes=minutes)


def iso(moment: datetime, offset_hours: int = 0) -> str:
    """``moment`` as a channel writes it, in the given UTC offset (e.g. +02:00 for Athens)."""
    return moment.astimezone(timezone(timedelta(hours=offset_hours))).isoformat()
