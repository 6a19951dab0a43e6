from datetime import date, timedelta

from django import forms
from django.utils import timezone

from inventory.models import Warehouse
from orders.models import Channel
from shipments.models import Carrier

PERIODS = [
    ("", "The days below"),
    ("7", "Last 7 days"),
    ("30", "Last 30 days"),
    ("90", "Last 90 days"),
    ("365", "Last 365 days"),
]
LONGEST_PERIOD_DAYS = 731
EARLIEST = date(2000, 1, 1)  # before it, the period before a period would leave the calendar


class KpiFilterForm(forms.Form):
    """The period and filters of a KPI view, all in the URL so that a view can be shared: a preset
    (the last N days, today included) or a range of days; a channel, warehouse and carrier by code."""

    days = forms.ChoiceField(required=False, choices=PERIODS, initial="30", label="Period")

    def __init__(self, data=None, **kwargs):
        # no period asked for: the last 30 days, and the menu says so
        if data is not None and not any(data.get(k) for k in ("days", "start", "end")):
            data = data.copy()
            data["days"] = "30"
        super().__init__(data, **kwargs)

    start = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="to", widget=forms.DateInput(attrs={"type": "date"}))
    channel = forms.ModelChoiceField(
        required=False,
        queryset=Channel.objects.order_by("code"),
        to_field_name="code",
        empty_label="Every channel",
    )
    warehouse = forms.ModelChoiceField(
        required=False,
        queryset=Warehouse.objects.order_by("code"),
        to_field_name="code",
        empty_label="Every warehouse",
    )
    country = forms.RegexField(
        required=False,
        regex=r"^[A-Za-z]{2}$",
        max_length=2,
        label="Destination",
        error_messages={"invalid": "A country is two letters (ISO 3166-1), e.g. GR."},
        widget=forms.TextInput(attrs={"size": 3, "placeholder": "GR"}),
    )
    carrier = forms.ModelChoiceField(
        required=False,
        queryset=Carrier.objects.order_by("code"),
        to_field_name="code",
        empty_label="Every carrier",
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        today = timezone.localdate()
        if start or end:
            end = end or today
            start = start or end - timedelta(days=29)
            for day in (start, end):
                if not EARLIEST <= day <= today + timedelta(days=366):
                    window = f"{EARLIEST:%d %b %Y} to a year from today"
                    raise forms.ValidationError(f"Dates go from {window}; {day.isoformat()} is outside.")
            if start > end:
                raise forms.ValidationError("The period starts after it ends.")
            if (end - start).days + 1 > LONGEST_PERIOD_DAYS:
                raise forms.ValidationError(f"A period covers at most {LONGEST_PERIOD_DAYS} days.")
        else:
            days = int(data.get("days") or 30)
            end, start = today, today - timedelta(days=days - 1)
        data["first"], data["last"] = start, end
        data["country"] = (data.get("country") or "").upper()
        return data
