"""Dashboard forms for stock: an adjustment with its reason, and a transfer."""

from django import forms

from inventory.models import Warehouse


def _warehouses():
    return Warehouse.objects.filter(is_active=True).order_by("code")


class AdjustForm(forms.Form):
    warehouse = forms.ModelChoiceField(
        queryset=_warehouses(), to_field_name="code", label="Warehouse", empty_label="Choose a warehouse"
    )
    delta = forms.IntegerField(
        label="Change (+ found, - lost)",
        min_value=-10_000_000,
        max_value=10_000_000,
        widget=forms.NumberInput(attrs={"placeholder": "e.g. -2"}),
    )
    reason = forms.CharField(
        max_length=200,
        label="Reason",
        widget=forms.TextInput(attrs={"placeholder": "e.g. damaged in handling"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["warehouse"].queryset = _warehouses()

    def clean_delta(self):
        if self.cleaned_data["delta"] == 0:
            raise forms.ValidationError("An adjustment of zero changes nothing.")
        return self.cleaned_data["delta"]


class TransferForm(forms.Form):
    sku = forms.CharField(max_length=64, label="SKU")
    from_warehouse = forms.ModelChoiceField(
        queryset=_warehouses(), to_field_name="code", label="From", empty_label="Choose a warehouse"
    )
    to_warehouse = forms.ModelChoiceField(
        queryset=_warehouses(), to_field_name="code", label="To", empty_label="Choose a warehouse"
    )
    quantity = forms.IntegerField(min_value=1, max_value=10_000_000, label="Units")
    ship = forms.BooleanField(required=False, label="Send now", initial=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("from_warehouse", "to_warehouse"):
            self.fields[name].queryset = _warehouses()
