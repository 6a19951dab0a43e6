from django import forms

from orders.models import Channel, HoldReason, OrderStatus


class OrderSearchForm(forms.Form):
    q = forms.CharField(
        required=False,
        label="Search",
        widget=forms.TextInput(
            attrs={
                "placeholder": "Order no., external id, e-mail or name",
                "autofocus": True,
                "type": "search",
            }
        ),
    )
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *OrderStatus.choices])
    channel = forms.ModelChoiceField(
        required=False,
        queryset=Channel.objects.order_by("code"),
        to_field_name="code",
        empty_label="Any channel",
    )
    placed_from = forms.DateField(
        required=False, label="Placed from", widget=forms.DateInput(attrs={"type": "date"})
    )
    placed_to = forms.DateField(required=False, label="to", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("placed_from") and data.get("placed_to") and data["placed_to"] < data["placed_from"]:
            self.add_error("placed_to", "The end date is before the start date.")
        return data


class CancelForm(forms.Form):
    reason = forms.CharField(
        required=False,
        max_length=500,
        label="Reason",
        widget=forms.TextInput(attrs={"placeholder": "e.g. customer asked by phone"}),
    )


class HoldForm(forms.Form):
    reason = forms.ChoiceField(choices=HoldReason.choices, label="Reason")
    note = forms.CharField(
        required=False,
        max_length=500,
        label="Note",
        widget=forms.TextInput(attrs={"placeholder": "e.g. waiting for the bank"}),
    )


class ReleaseForm(forms.Form):
    note = forms.CharField(
        required=False,
        max_length=500,
        label="Note",
        widget=forms.TextInput(attrs={"placeholder": "e.g. confirmed by phone"}),
    )
