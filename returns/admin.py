"""Admins set each channel's return policy and reason codes here; returns themselves are read-only
(ops work them in the dashboard, where every move goes through the services)."""

from django import forms
from django.contrib import admin

from oms.admin import ReadOnlyAdmin
from returns.models import (
    Credit,
    CreditLine,
    Return,
    ReturnEvent,
    ReturnInspection,
    ReturnLine,
    ReturnPolicy,
    ReturnReason,
)
from returns.selectors import reason_choices


class ReturnPolicyForm(forms.ModelForm):
    auto_approve_reasons = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Reasons approved without a person; none ticked: every reason.",
    )

    class Meta:
        model = ReturnPolicy
        fields = [
            "channel",
            "window_days",
            "restocking_fee_percent",
            "customer_label_fee",
            "refund_shipping",
            "auto_approve",
            "auto_approve_reasons",
            "auto_approve_max_value",
            "auto_approve_max_recent_returns",
            "return_to",
            "returns_centre",
            "instant_exchange",
            "credit_after_inspection",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["auto_approve_reasons"].choices = reason_choices()

    def clean_restocking_fee_percent(self):
        value = self.cleaned_data["restocking_fee_percent"]
        if not 0 <= value <= 100:
            raise forms.ValidationError("Between 0 and 100 %.")
        return value

    def clean(self):
        data = super().clean()
        if data.get("return_to") == "centre" and not data.get("returns_centre"):
            self.add_error("returns_centre", "Choose the returns centre the rule sends returns to.")
        return data


@admin.register(ReturnPolicy)
class ReturnPolicyAdmin(admin.ModelAdmin):
    form = ReturnPolicyForm
    list_display = [
        "__str__",
        "window_days",
        "restocking_fee_percent",
        "customer_label_fee",
        "auto_approve",
        "auto_approve_max_value",
        "return_to",
        "instant_exchange",
    ]
    fieldsets = [
        (None, {"fields": ["channel", "window_days"]}),
        ("Money", {"fields": ["restocking_fee_percent", "customer_label_fee", "refund_shipping"]}),
        (
            "Approval without a person",
            {
                "fields": [
                    "auto_approve",
                    "auto_approve_reasons",
                    "auto_approve_max_value",
                    "auto_approve_max_recent_returns",
                ]
            },
        ),
        ("Where returns go", {"fields": ["return_to", "returns_centre"]}),
        ("Exchanges and credits", {"fields": ["instant_exchange", "credit_after_inspection"]}),
    ]


@admin.register(ReturnReason)
class ReturnReasonAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "channel", "merchant_fault", "needs_note", "is_active"]
    list_filter = ["channel", "merchant_fault", "is_active"]
    search_fields = ["code", "label"]


class ReturnLineInline(admin.TabularInline):
    model = ReturnLine
    extra = 0
    can_delete = False
    fields = ["order_line", "quantity", "reason", "note", "received_quantity", "exchange_product"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class ReturnEventInline(admin.TabularInline):
    model = ReturnEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "from_status", "to_status", "actor", "note"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Return)
class ReturnAdmin(ReadOnlyAdmin):
    list_display = ["number", "status", "channel", "source", "credit_method", "return_location", "created_at"]
    list_filter = ["status", "channel", "source", "credit_method"]
    inlines = [ReturnLineInline, ReturnEventInline]


@admin.register(ReturnInspection)
class ReturnInspectionAdmin(ReadOnlyAdmin):
    list_display = [
        "ret",
        "product",
        "quantity",
        "grade",
        "disposition",
        "warehouse",
        "inspected_by",
        "created_at",
    ]
    list_filter = ["disposition", "grade"]


class CreditLineInline(admin.TabularInline):
    model = CreditLine
    extra = 0
    can_delete = False
    fields = ["order_line", "units", "amount", "restocking_fee"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Credit)
class CreditAdmin(ReadOnlyAdmin):
    list_display = ["ret", "method", "amount", "currency", "created_at"]
    list_filter = ["method", "currency"]
    inlines = [CreditLineInline]
