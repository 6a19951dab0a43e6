"""The webhooks page's filters, which the range replay reuses: what ops pick is exactly what is sent
again."""

from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone

from integrations.models import EVENT_PATTERN, MAX_EVENT_LENGTH, WebhookEndpoint, WebhookStatus


class DeliveryFilterForm(forms.Form):
    endpoint = forms.ModelChoiceField(
        queryset=WebhookEndpoint.objects.order_by("url"), required=False, empty_label="Every endpoint"
    )
    status = forms.ChoiceField(choices=[("", "Any"), *WebhookStatus.choices], required=False)
    event = forms.CharField(
        max_length=MAX_EVENT_LENGTH,
        required=False,
        help_text="A name (order.shipped) or a prefix ending in a dot (order.).",
    )
    start = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(
        required=False, label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_event(self) -> str:
        event = self.cleaned_data["event"].strip()
        if event and not EVENT_PATTERN.match(event):
            raise forms.ValidationError("An event name (order.shipped) or a prefix ending in a dot (order.).")
        return event

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", "The end is before the start.")
        return data

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """[start, end) as aware times: from the start day's first moment to the end day's last, in
        the dashboard's time zone (the days ops see)."""
        zone = timezone.get_current_timezone()
        start, end = self.cleaned_data.get("start"), self.cleaned_data.get("end")
        return (
            datetime.combine(start, time.min, zone) if start else None,
            datetime.combine(end + timedelta(days=1), time.min, zone) if end else None,
        )


class RangeReplayForm(DeliveryFilterForm):
    """A range to send again: both days are needed (a replay of everything, ever, is never a click
    away), and only deliveries that are not on their way already."""

    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"}))
    status = forms.ChoiceField(
        choices=[(WebhookStatus.FAILED, "Given up"), (WebhookStatus.SUCCEEDED, "Delivered")],
    )


class ImportUploadForm(forms.Form):
    channel = forms.ModelChoiceField(queryset=None, help_text="The marketplace the orders were sold on.")
    file = forms.FileField(help_text="CSV (one row per order line) or JSON (a list of API order bodies).")

    def __init__(self, *args, **kwargs):
        from orders.models import Channel

        super().__init__(*args, **kwargs)
        self.fields["channel"].queryset = Channel.objects.filter(is_active=True).order_by("name")
