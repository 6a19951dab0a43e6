"""Request and response bodies of the returns API. Shapes and types only: what may be returned, and
the policy, are the services' business."""

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from orders.validation import currency_precision
from returns.models import Credit, CreditMethod, Disposition, Grade, Return, ReturnStatus
from returns.services import MAX_RETURN_LINES, InspectionInput, ReturnLineInput

MAX_INSPECTIONS = 500
MAX_UNITS = 100_000

# ---------------------------------------------------------------------------------------------- input


@extend_schema_serializer(component_name="ReturnLineRequest")
class ReturnLineIn(serializers.Serializer):
    order_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="The order's `id`.")
    line_number = serializers.IntegerField(min_value=1, max_value=32767)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_UNITS)
    reason = serializers.CharField(
        max_length=32, help_text="A reason code from `GET /api/v1/returns/reasons/`."
    )
    note = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default="", help_text="Required for `other`."
    )
    exchange_sku = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="For an exchange: the SKU the customer wants instead (the same one when left out).",
    )


@extend_schema_serializer(component_name="ReturnRequest")
class ReturnCreateIn(serializers.Serializer):
    credit_method = serializers.ChoiceField(choices=CreditMethod.choices, default=CreditMethod.REFUND)
    lines = ReturnLineIn(many=True, allow_empty=False, max_length=MAX_RETURN_LINES)

    @staticmethod
    def to_lines(data: dict) -> list[ReturnLineInput]:
        return [ReturnLineInput(**line) for line in data["lines"]]


@extend_schema_serializer(component_name="ReturnCancel")
class ReturnCancelIn(serializers.Serializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


@extend_schema_serializer(component_name="ReturnInspection")
class InspectionIn(serializers.Serializer):
    line_id = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        required=False,
        allow_null=True,
        default=None,
        help_text="The return line (`lines[].id`); leave out for units that match no line.",
    )
    sku = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default="", help_text="What arrived, without a line."
    )
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_UNITS)
    grade = serializers.ChoiceField(choices=Grade.choices)
    disposition = serializers.ChoiceField(choices=Disposition.choices)
    warehouse = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        default="",
        help_text="For restock: the warehouse code (the return's location when left out).",
    )
    bin = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    lot = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required for lot-tracked SKUs.",
    )
    expiry_date = serializers.DateField(required=False, allow_null=True, default=None)

    @staticmethod
    def to_input(item: dict) -> InspectionInput:
        return InspectionInput(
            line_id=item["line_id"],
            sku=item["sku"],
            quantity=item["quantity"],
            grade=item["grade"],
            disposition=item["disposition"],
            warehouse_code=item["warehouse"].strip().upper(),
            bin_code=item["bin"],
            lot_code=item["lot"],
            expiry_date=item["expiry_date"],
        )


@extend_schema_serializer(component_name="ReturnReceivedLine")
class ReceivedLineIn(serializers.Serializer):
    id = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, help_text="The return line (`lines[].id`)."
    )
    received = serializers.IntegerField(min_value=0, max_value=MAX_UNITS)


@extend_schema_serializer(component_name="ReturnReceive")
class ReceiveIn(serializers.Serializer):
    lines = ReceivedLineIn(
        many=True, max_length=MAX_RETURN_LINES, help_text="A line left out came back empty."
    )
    inspections = InspectionIn(
        many=True,
        required=False,
        allow_null=True,
        default=None,
        max_length=MAX_INSPECTIONS,
        help_text="Inspect in the same call (every received unit needs its disposition).",
    )


@extend_schema_serializer(component_name="ReturnInspect")
class InspectIn(serializers.Serializer):
    inspections = InspectionIn(many=True, allow_empty=False, max_length=MAX_INSPECTIONS)


# --------------------------------------------------------------------------------------------- output


def _money(amount, currency: str) -> str:
    return f"{amount:.{currency_precision(currency) or 0}f}"


@extend_schema_serializer(component_name="ReturnLine")
class ReturnLineOut(serializers.Serializer):
    id = serializers.IntegerField()
    order_id = serializers.IntegerField(source="order_line.order_id")
    order_external_id = serializers.CharField(source="order_line.order.external_id")
    line_number = serializers.IntegerField(source="order_line.line_number")
    sku = serializers.CharField(source="order_line.sku")
    quantity = serializers.IntegerField(help_text="Units asked back.")
    reason = serializers.CharField(source="reason.code")
    note = serializers.CharField()
    received = serializers.IntegerField(source="received_quantity", help_text="Units that came back.")
    exchange_sku = serializers.CharField(source="exchange_product.sku", allow_null=True, default=None)


@extend_schema_serializer(component_name="ReturnLocation")
class LocationOut(serializers.Serializer):
    """Where the parcel goes: the warehouse's public address."""

    code = serializers.CharField()
    name = serializers.CharField()
    line1 = serializers.CharField()
    postal_code = serializers.CharField()
    city = serializers.CharField()
    country = serializers.CharField()


@extend_schema_serializer(component_name="CreditLine")
class CreditLineOut(serializers.Serializer):
    order_id = serializers.IntegerField()
    line_number = serializers.IntegerField()
    units = serializers.IntegerField()
    amount = serializers.CharField(help_text="What the units were paid, tax included.")
    restocking_fee = serializers.CharField()


@extend_schema_serializer(component_name="Credit")
class CreditOut(serializers.Serializer):
    id = serializers.IntegerField()
    method = serializers.ChoiceField(choices=CreditMethod.choices)
    currency = serializers.CharField()
    goods = serializers.CharField(help_text="Decimal string in the currency's decimals.")
    shipping = serializers.CharField()
    restocking_fee = serializers.CharField()
    label_fee = serializers.CharField()
    amount = serializers.CharField(help_text="goods + shipping - restocking_fee - label_fee.")
    created_at = serializers.DateTimeField()
    lines = CreditLineOut(many=True)


@extend_schema_serializer(component_name="ReturnLabel")
class LabelOut(serializers.Serializer):
    """The prepaid return label: the carrier's parcel, its progress, and the file to give the customer."""

    carrier = serializers.CharField()
    tracking_number = serializers.CharField()
    shipment_status = serializers.CharField(help_text="label_purchased, shipped (handed over), delivered.")
    pdf_url = serializers.CharField(help_text="GET it with your key: the label to print.")


@extend_schema_serializer(component_name="ReturnHistory")
class ReturnHistoryOut(serializers.Serializer):
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    at = serializers.DateTimeField(source="created_at")


@extend_schema_serializer(component_name="Return")
class ReturnOut(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField(help_text="RMA number to print on the parcel.")
    status = serializers.ChoiceField(choices=ReturnStatus.choices)
    source = serializers.CharField(help_text="channel, customer (self-service) or ops.")
    credit_method = serializers.ChoiceField(choices=CreditMethod.choices)
    rejection_reason = serializers.CharField(
        help_text="Why it was refused, for the customer; empty otherwise."
    )
    lines = ReturnLineOut(many=True)
    return_location = LocationOut(allow_null=True)
    label = LabelOut(allow_null=True, help_text="Set once a return label was bought.")
    credit = CreditOut(allow_null=True)
    replacement_order_id = serializers.IntegerField(allow_null=True, help_text="An exchange's new order.")
    history = ReturnHistoryOut(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


def _label(ret: Return) -> dict | None:
    shipment = ret.shipment
    if shipment is None or not shipment.tracking_number:
        return None
    return {
        "carrier": shipment.service.carrier.name,
        "tracking_number": shipment.tracking_number,
        "shipment_status": shipment.status,
        "pdf_url": f"/api/v1/returns/{ret.pk}/label.pdf",
    }


def return_json(ret: Return) -> dict:
    """A return as its channel sees it: its own orders' lines, no one's personal data beyond them."""
    credit = Credit.objects.filter(ret=ret).prefetch_related("lines__order_line").first()
    data = {
        "id": ret.pk,
        "number": ret.number,
        "status": ret.status,
        "source": ret.source,
        "credit_method": ret.credit_method,
        "rejection_reason": ret.decision_note if ret.status == ReturnStatus.REJECTED else "",
        "lines": ReturnLineOut(ret.lines.all(), many=True).data,
        "return_location": LocationOut(ret.return_location).data if ret.return_location else None,
        "label": _label(ret),
        "credit": None,
        "replacement_order_id": ret.replacement_order_id,
        "history": ReturnHistoryOut([e for e in ret.events.all() if e.to_status], many=True).data,
        "created_at": serializers.DateTimeField().to_representation(ret.created_at),
        "updated_at": serializers.DateTimeField().to_representation(ret.updated_at),
    }
    if credit is not None:
        data["credit"] = _credit_fields(credit)
    return data


@extend_schema_serializer(component_name="CreditRecord")
class CreditRecordOut(CreditOut):
    """A credit to carry out, with the return and orders it belongs to."""

    return_id = serializers.IntegerField()
    return_number = serializers.CharField()
    channel = serializers.CharField(help_text="The channel's code.")
    order_ids = serializers.ListField(child=serializers.IntegerField())
    replacement_order_id = serializers.IntegerField(allow_null=True)


def _credit_fields(credit: Credit) -> dict:
    return {
        "id": credit.pk,
        "method": credit.method,
        "currency": credit.currency,
        **{
            name: _money(getattr(credit, name), credit.currency)
            for name in ("goods", "shipping", "restocking_fee", "label_fee", "amount")
        },
        "created_at": serializers.DateTimeField().to_representation(credit.created_at),
        "lines": [
            {
                "order_id": cl.order_line.order_id,
                "line_number": cl.order_line.line_number,
                "units": cl.units,
                "amount": _money(cl.amount, credit.currency),
                "restocking_fee": _money(cl.restocking_fee, credit.currency),
            }
            for cl in credit.lines.all()
        ],
    }


def credit_json(credit: Credit) -> dict:
    """A credit for a payment or ERP integration: its fields and the return and orders behind it."""
    ret = credit.ret
    fields = _credit_fields(credit)
    return {
        **fields,
        "return_id": ret.pk,
        "return_number": ret.number,
        "channel": ret.channel.code,
        "order_ids": sorted({line["order_id"] for line in fields["lines"]}),
        "replacement_order_id": ret.replacement_order_id,
    }


@extend_schema_serializer(component_name="ReturnReason")
class ReasonOut(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    merchant_fault = serializers.BooleanField(help_text="The merchant pays the return shipping; no fee.")
    needs_note = serializers.BooleanField(help_text="The request must say more in `note`.")
