"""Shipments: label purchase through the carrier adapters outside any transaction, hand-over,
delivery, cancellation; labels.

A label purchase commits in steps - the shipment is marked ``label_pending``, the carrier's parcel id
is stored as soon as the carrier gives it, and the purchase is stored when it comes back - so that a
timeout leaves a shipment that can be retried, and the retry asks the carrier before it buys (see
``shipments.carriers.base``)."""

import time
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from inventory import services as stock
from inventory.models import Warehouse
from oms.errors import (
    Conflict,
    IllegalTransition,
    NotFound,
    PartnerRefused,
    PartnerUnavailable,
    ValidationFailed,
)
from oms.events import event_emit
from orders import services as order_services
from orders.models import Order, OrderLine, OrderStatus
from orders.services import Actor
from shipments import labels
from shipments.carriers import adapter_for
from shipments.carriers.base import (
    CarrierError,
    CarrierUnavailable,
    LabelFile,
    ParcelRequest,
    Party,
    Purchase,
)
from shipments.models import (
    SHIPMENT_TRANSITIONS,
    CarrierCall,
    CarrierCallOutcome,
    CarrierService,
    Label,
    LabelFormat,
    LabelSource,
    Package,
    PackageLine,
    Shipment,
    ShipmentDirection,
    ShipmentEvent,
    ShipmentStatus,
)

# --------------------------------------------------------------------------------------------- shipments


def _history(
    shipment: Shipment, actor: Actor, *, from_status: str = "", to_status: str = "", note: str = "", **data
):
    ShipmentEvent.objects.create(
        shipment=shipment,
        from_status=from_status,
        to_status=to_status,
        actor=actor.label[:120],
        note=note,
        data=data,
    )


def _shipment_transition(shipment: Shipment, to_status: str, actor: Actor, note: str = "", **data) -> None:
    if to_status not in SHIPMENT_TRANSITIONS[shipment.status]:
        raise IllegalTransition(
            f"Shipment {shipment.reference} is already {shipment.get_status_display().lower()}: it cannot "
            f"move to {ShipmentStatus(to_status).label.lower()} now.",
            details={"status": shipment.status},
        )
    _history(shipment, actor, from_status=shipment.status, to_status=to_status, note=note, **data)
    shipment.status = to_status


def _locked_shipment(shipment_id: int) -> Shipment:
    shipment = (
        Shipment.objects.select_for_update(of=("self",))
        .select_related("service__carrier", "warehouse", "order")
        .filter(pk=shipment_id)
        .first()
    )
    if shipment is None:
        raise NotFound(f"Shipment {shipment_id} does not exist.")
    return shipment


def default_service_for(order: Order) -> CarrierService | None:
    return (
        CarrierService.objects.filter(
            service_level=order.service_level, is_active=True, carrier__is_active=True
        )
        .select_related("carrier")
        .order_by("carrier__code", "pk")
        .first()
    )


@transaction.atomic
def shipment_create(*, package_ids: list[int], actor: Actor, service_id: int | None = None) -> Shipment:
    """Group packages of one order from one warehouse into a shipment with a carrier service (the
    one mapped to the order's service level unless ``service_id`` says otherwise)."""
    packages = list(Package.objects.select_for_update().filter(pk__in=package_ids).order_by("pk"))
    if not packages or len(packages) != len(set(package_ids)):
        raise ValidationFailed("Choose existing packages.", details={"package_ids": ["Unknown package."]})
    if len({(p.order_id, p.warehouse_id) for p in packages}) != 1:
        raise ValidationFailed(
            "A shipment holds packages of one order from one warehouse.",
            details={"package_ids": ["Mixed orders or warehouses."]},
        )
    taken = [p.pk for p in packages if p.shipment_id is not None]
    if (
        taken
        and Shipment.objects.filter(
            pk__in=[p.shipment_id for p in packages if p.shipment_id],
            status__in=[s for s in ShipmentStatus if s != ShipmentStatus.CANCELLED],
        ).exists()
    ):
        raise Conflict("Some of these packages are already in a shipment.", details={"package_ids": taken})
    order = order_services.order_lock(packages[0].order_id)
    if order.status not in (OrderStatus.IN_FULFILLMENT, OrderStatus.PARTIALLY_SHIPPED):
        raise Conflict(f"Order {order.number} is {order.get_status_display().lower()}: it cannot ship now.")
    service = (
        CarrierService.objects.select_related("carrier").filter(pk=service_id, is_active=True).first()
        if service_id
        else default_service_for(order)
    )
    if service is None:
        raise ValidationFailed(
            "No carrier service is set up for this order's service level.",
            details={
                "service_id": [f"Map a carrier service to '{order.service_level}' in admin, or choose one."]
            },
        )
    shipment = Shipment.objects.create(order=order, warehouse_id=packages[0].warehouse_id, service=service)
    Package.objects.filter(pk__in=[p.pk for p in packages]).update(
        shipment=shipment, tracking_number="", carrier_parcel_id=""
    )
    _history(shipment, actor, to_status=ShipmentStatus.DRAFT, note=f"{len(packages)} package(s)")
    return shipment


def _party_of_warehouse(warehouse: Warehouse) -> Party:
    return Party(
        name=warehouse.name,
        line1=warehouse.line1,
        city=warehouse.city,
        postal_code=warehouse.postal_code,
        country=warehouse.country,
    )


def _party_of_order(order: Order) -> Party:
    address = order.shipping_address
    # The contact the channel gave with this order, not what other channels know of the same person.
    return Party(
        name=address.name,
        company=address.company,
        line1=address.line1,
        line2=address.line2,
        city=address.city,
        region=address.region,
        postal_code=address.postal_code,
        country=address.country,
        phone=address.phone or (order.contact_phone or ""),
        email=order.contact_email or "",
    )


def _parcel_request(shipment: Shipment, package: Package, index: int) -> ParcelRequest:
    # A return keeps the way-out orientation and says it is a return (see ParcelRequest.is_return).
    return ParcelRequest(
        is_return=shipment.direction == ShipmentDirection.RETURN,
        reference=f"{shipment.reference}/{index}",
        sender=_party_of_warehouse(shipment.warehouse),
        recipient=_party_of_order(shipment.order),
        weight_grams=package.weight_grams,
        length_mm=package.length_mm,
        width_mm=package.width_mm,
        height_mm=package.height_mm,
        service_code=shipment.service.code,
        carrier_name=shipment.service.carrier_name,
        order_number=shipment.order.number,
    )


def _record_call(shipment: Shipment, operation: str, outcome: str, started: float, detail: str = "") -> None:
    CarrierCall.objects.create(
        carrier=shipment.service.carrier,
        shipment=shipment,
        operation=operation,
        outcome=outcome,
        detail=detail[:2000],
        duration_ms=round((time.perf_counter() - started) * 1000),
    )


def _carrier_step(shipment: Shipment, operation: str, call):
    """Run one carrier call outside any transaction and record it; carrier errors become domain
    errors after the shipment is put back where a retry can start."""
    started = time.perf_counter()
    try:
        result = call()
    except CarrierError as exc:
        detail = "; ".join([exc.message, *exc.details])
        with transaction.atomic():
            _record_call(shipment, operation, CarrierCallOutcome.REFUSED, started, detail)
            locked = _locked_shipment(shipment.pk)
            if locked.status == ShipmentStatus.LABEL_PENDING:
                _shipment_transition(locked, ShipmentStatus.DRAFT, Actor.system("carrier"), note=detail)
            locked.label_error = detail
            locked.save(update_fields=["status", "label_error", "updated_at"])
        raise PartnerRefused(exc.message, details={"carrier": exc.details, "code": exc.code}) from exc
    except CarrierUnavailable as exc:
        with transaction.atomic():
            _record_call(shipment, operation, CarrierCallOutcome.UNKNOWN, started, str(exc))
            Shipment.objects.filter(pk=shipment.pk).update(
                label_error=f"{exc} Retry: the carrier is asked first, nothing is bought twice.",
                updated_at=timezone.now(),
            )
        raise PartnerUnavailable(
            f"{shipment.service.carrier.name} did not answer; the label purchase can be retried safely.",
            details={"shipment": shipment.reference},
        ) from exc
    with transaction.atomic():
        _record_call(shipment, operation, CarrierCallOutcome.OK, started)
    return result


def _store_purchase(shipment: Shipment, package: Package, index: int, count: int, purchase: Purchase) -> bool:
    """Store a package's purchase once (a concurrent attempt may have stored it already); returns
    whether this call stored it."""
    if not Package.objects.filter(pk=package.pk, tracking_number="").update(
        tracking_number=purchase.tracking_number
    ):
        return False
    package.tracking_number = purchase.tracking_number
    if purchase.cost is not None:
        shipment.cost = (shipment.cost or Decimal(0)) + purchase.cost
        shipment.currency = purchase.currency
    if purchase.estimated_delivery and (
        shipment.estimated_delivery is None or purchase.estimated_delivery > shipment.estimated_delivery
    ):
        shipment.estimated_delivery = purchase.estimated_delivery
    shipment.save(update_fields=["cost", "currency", "estimated_delivery", "updated_at"])
    files: list[LabelFile] = list(purchase.labels)
    if files:
        for file in files:
            Label.objects.update_or_create(
                package=package,
                format=file.format,
                defaults={"source": LabelSource.CARRIER, "content": file.content},
            )
        return True
    data = labels.LabelData(
        tracking_number=purchase.tracking_number,
        carrier=shipment.service.carrier.name,
        service=shipment.service.name,
        reference=shipment.reference,
        order_number=shipment.order.number,
        package_index=index,
        package_count=count,
        weight_grams=package.weight_grams,
        **_label_parties(shipment),
    )
    Label.objects.update_or_create(
        package=package,
        format=LabelFormat.PDF,
        defaults={"source": LabelSource.GENERATED, "content": labels.label_pdf(data)},
    )
    Label.objects.update_or_create(
        package=package,
        format=LabelFormat.ZPL,
        defaults={"source": LabelSource.GENERATED, "content": labels.label_zpl(data).encode()},
    )
    return True


def _label_parties(shipment: Shipment) -> dict[str, Party]:
    """Who the printed label says it is from and to: a return goes from the customer to the warehouse."""
    warehouse, customer = _party_of_warehouse(shipment.warehouse), _party_of_order(shipment.order)
    if shipment.direction == ShipmentDirection.RETURN:
        return {"sender": customer, "recipient": warehouse}
    return {"sender": warehouse, "recipient": customer}


def _adapter(carrier):
    try:
        return adapter_for(carrier)
    except CarrierError as exc:
        raise PartnerRefused(exc.message, details={"carrier": exc.details, "code": exc.code}) from exc


# An attempt that has neither finished nor failed within this time is taken as dead (its process
# stopped); the retry then asks the carrier what became of it.
LABEL_ATTEMPT_TIMEOUT = timedelta(minutes=5)


def shipment_buy_labels(*, shipment_id: int, actor: Actor) -> Shipment:
    """Buy a label for every package of the shipment that has none yet; safe to call again after a
    refusal (once the cause is fixed) or a timeout."""
    current = Shipment.objects.select_related("service__carrier").filter(pk=shipment_id).first()
    if current is None:
        raise NotFound(f"Shipment {shipment_id} does not exist.")
    adapter = _adapter(current.service.carrier)
    with transaction.atomic():
        shipment = _locked_shipment(shipment_id)
        if shipment.status == ShipmentStatus.LABEL_PURCHASED:
            return shipment
        in_flight = (
            shipment.status == ShipmentStatus.LABEL_PENDING
            and not shipment.label_error
            and shipment.updated_at > timezone.now() - LABEL_ATTEMPT_TIMEOUT
        )
        if in_flight:
            # One attempt at a time: a second one would ask the carrier for a second parcel.
            raise Conflict(
                f"A label purchase for {shipment.reference} is under way; look again in a moment.",
                code="label_purchase_in_progress",
            )
        _shipment_transition(shipment, ShipmentStatus.LABEL_PENDING, actor, note="buying labels")
        shipment.label_error = ""
        shipment.save(update_fields=["status", "label_error", "updated_at"])
    shipment = Shipment.objects.select_related(
        "service__carrier", "warehouse", "order__shipping_address"
    ).get(pk=shipment_id)
    packages = list(shipment.packages.order_by("pk"))
    for index, package in enumerate(packages, start=1):
        if package.tracking_number:
            continue
        request = _parcel_request(shipment, package, index)
        if not package.carrier_parcel_id:
            parcel_id = _carrier_step(shipment, "prepare", lambda request=request: adapter.prepare(request))
            # Only the first attempt's id is kept: a concurrent attempt's parcel is never bought.
            with transaction.atomic():
                Package.objects.filter(pk=package.pk, carrier_parcel_id="").update(
                    carrier_parcel_id=parcel_id
                )
            package.refresh_from_db(fields=["carrier_parcel_id"])
        purchase = _carrier_step(
            shipment,
            "buy",
            lambda package=package, request=request: adapter.buy(package.carrier_parcel_id, request),
        )
        with transaction.atomic():
            locked = _locked_shipment(shipment.pk)
            locked.order = shipment.order
            _store_purchase(locked, package, index, len(packages), purchase)
    with transaction.atomic():
        shipment = _locked_shipment(shipment_id)
        if shipment.status == ShipmentStatus.LABEL_PURCHASED:
            return shipment  # a concurrent attempt finished first
        packages = list(shipment.packages.order_by("pk"))
        shipment.tracking_number = packages[0].tracking_number
        _shipment_transition(
            shipment,
            ShipmentStatus.LABEL_PURCHASED,
            actor,
            note=", ".join(p.tracking_number for p in packages),
        )
        shipment.save(update_fields=["status", "tracking_number", "updated_at"])
    return shipment


@transaction.atomic
def shipment_hand_over(*, shipment_id: int, actor: Actor) -> Shipment:
    """The carrier took the packages: their units leave the warehouse's stock, the order's lines
    count them as shipped, and the order becomes shipped or partially shipped."""
    shipment = _locked_shipment(shipment_id)
    order = order_services.order_lock(shipment.order_id)
    _shipment_transition(shipment, ShipmentStatus.SHIPPED, actor)
    units: dict[int, int] = defaultdict(int)
    for line in PackageLine.objects.filter(package__shipment=shipment):
        units[line.order_line_id] += line.quantity
    if units:
        stock.stock_ship_lines(
            order_id=order.pk,
            quantities=dict(units),
            actor=actor.label,
            warehouse_id=shipment.warehouse_id,
            locked=order,
        )
    shipment.shipped_at = timezone.now()
    shipment.save(update_fields=["status", "shipped_at", "updated_at"])
    lines = list(OrderLine.objects.filter(order=order))
    everything_shipped = all(ln.qty_shipped >= ln.quantity - ln.qty_cancelled for ln in lines)
    target = OrderStatus.SHIPPED if everything_shipped else OrderStatus.PARTIALLY_SHIPPED
    if target != order.status:
        order_services.order_transition(
            order_id=order.pk,
            to_status=target,
            actor=actor,
            note=f"shipment {shipment.reference}",
            locked=order,
        )
    event_emit(
        name="shipment.shipped",
        aggregate_type="shipment",
        aggregate_id=shipment.pk,
        payload={
            "shipment_id": shipment.pk,
            "order_id": order.pk,
            "carrier": shipment.service.carrier.code,
            "service": shipment.service.code,
            "tracking_numbers": list(
                shipment.packages.order_by("pk").values_list("tracking_number", flat=True)
            ),
            "estimated_delivery": shipment.estimated_delivery.isoformat()
            if shipment.estimated_delivery
            else None,
        },
    )
    return shipment


def default_return_service() -> CarrierService | None:
    """The carrier service return labels are bought with: the first active standard one."""
    return (
        CarrierService.objects.filter(service_level="standard", is_active=True, carrier__is_active=True)
        .select_related("carrier")
        .order_by("carrier__code", "pk")
        .first()
    )


RETURN_PARCEL_MM = (300, 200, 150)


@transaction.atomic
def return_shipment_create(
    *,
    order_id: int,
    warehouse_id: int,
    weight_grams: int,
    actor: Actor,
    note: str = "",
    service_id: int | None = None,
) -> Shipment:
    """The shipment of a return label: one parcel from the customer of ``order_id`` back to
    ``warehouse_id``. Nothing leaves stock and no order line moves; tracking follows the parcel, and
    its delivery is the return's arrival. Buy its label with ``shipment_buy_labels``."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        raise NotFound(f"Order {order_id} does not exist.")
    service = (
        CarrierService.objects.select_related("carrier").filter(pk=service_id, is_active=True).first()
        if service_id
        else default_return_service()
    )
    if service is None:
        raise ValidationFailed(
            "No carrier service can carry returns.",
            details={"service_id": ["Set up an active standard carrier service in admin, or choose one."]},
        )
    shipment = Shipment.objects.create(
        order=order, warehouse_id=warehouse_id, service=service, direction=ShipmentDirection.RETURN
    )
    length, width, height = RETURN_PARCEL_MM
    Package.objects.create(
        order=order,
        warehouse_id=warehouse_id,
        shipment=shipment,
        weight_grams=max(weight_grams, 1),
        length_mm=length,
        width_mm=width,
        height_mm=height,
        packed_by=actor.label[:120],
    )
    _history(shipment, actor, to_status=ShipmentStatus.DRAFT, note=note or "return label")
    return shipment


RETURN_NOT_MOVING = frozenset({"label_created", "cancelled"})


@transaction.atomic
def return_shipment_progress(*, shipment_id: int, milestone: str, at: datetime, actor: Actor) -> Shipment:
    """The carrier moved a return parcel: its first scan is the hand-over (the customer dropped it off)
    and its delivery the arrival at the warehouse (``shipment.delivered`` says it is a return)."""
    shipment = _locked_shipment(shipment_id)
    if shipment.direction != ShipmentDirection.RETURN:
        raise ValueError(f"{shipment.reference} is not a return.")
    if milestone not in RETURN_NOT_MOVING and shipment.status == ShipmentStatus.LABEL_PURCHASED:
        _shipment_transition(shipment, ShipmentStatus.SHIPPED, actor, note="the customer handed it over")
        shipment.shipped_at = at
        shipment.save(update_fields=["status", "shipped_at", "updated_at"])
    if milestone == "delivered" and shipment.status == ShipmentStatus.SHIPPED:
        _shipment_transition(shipment, ShipmentStatus.DELIVERED, actor, note=f"delivered {at:%Y-%m-%d %H:%M}")
        shipment.save(update_fields=["status", "updated_at"])
        _emit_delivered(shipment, at)
    return shipment


def _emit_delivered(shipment: Shipment, at: datetime) -> None:
    event_emit(
        name="shipment.delivered",
        aggregate_type="shipment",
        aggregate_id=shipment.pk,
        payload={
            "shipment_id": shipment.pk,
            "order_id": shipment.order_id,
            "delivered_at": at.isoformat(),
            "direction": shipment.direction,
        },
    )


@transaction.atomic
def shipment_mark_delivered(*, shipment_id: int, actor: Actor, delivered_at: datetime) -> Shipment:
    """The carrier delivered the shipment: its units count as delivered, and the order is delivered
    once every unit has shipped and every shipment arrived. Delivering twice changes nothing."""
    shipment = _locked_shipment(shipment_id)
    if shipment.status == ShipmentStatus.DELIVERED:
        return shipment
    order = order_services.order_lock(shipment.order_id)
    _shipment_transition(
        shipment, ShipmentStatus.DELIVERED, actor, note=f"delivered {delivered_at:%Y-%m-%d %H:%M}"
    )
    shipment.save(update_fields=["status", "updated_at"])
    units: dict[int, int] = defaultdict(int)
    for line in PackageLine.objects.filter(package__shipment=shipment):
        units[line.order_line_id] += line.quantity
    lines = {line.pk: line for line in OrderLine.objects.filter(order=order)}
    order_services.order_lines_record_progress(
        order_id=order.pk,
        quantities={
            lines[line_id].line_number: {"qty_delivered": lines[line_id].qty_delivered + quantity}
            for line_id, quantity in units.items()
        },
        locked=order,
    )
    everything_delivered = (
        not Shipment.objects.filter(order=order, direction=ShipmentDirection.OUTBOUND)
        .exclude(status__in=[ShipmentStatus.DELIVERED, ShipmentStatus.CANCELLED])
        .exists()
    )
    if order.status == OrderStatus.SHIPPED and everything_delivered:
        order_services.order_transition(
            order_id=order.pk,
            to_status=OrderStatus.DELIVERED,
            actor=actor,
            note="every shipment arrived",
            locked=order,
        )
    _emit_delivered(shipment, delivered_at)
    return shipment


def shipment_cancel(*, shipment_id: int, actor: Actor, reason: str = "") -> Shipment:
    """Abandon a shipment before it ships: bought labels are voided with the carrier first, and its
    packages can go into another shipment."""
    shipment = Shipment.objects.select_related("service__carrier").get(pk=shipment_id)
    if shipment.status not in (ShipmentStatus.DRAFT, ShipmentStatus.LABEL_PURCHASED):
        raise IllegalTransition(
            f"Shipment {shipment.reference} is {shipment.get_status_display().lower()}: "
            "it can no longer be cancelled."
        )
    adapter = _adapter(shipment.service.carrier)
    for package in shipment.packages.exclude(carrier_parcel_id="").exclude(tracking_number=""):
        _carrier_step(shipment, "void", lambda package=package: adapter.void(package.carrier_parcel_id))
    with transaction.atomic():
        shipment = _locked_shipment(shipment_id)
        _shipment_transition(shipment, ShipmentStatus.CANCELLED, actor, note=reason)
        shipment.save(update_fields=["status", "updated_at"])
        Package.objects.filter(shipment=shipment).update(
            shipment=None, tracking_number="", carrier_parcel_id=""
        )
    return shipment


def label_of(*, package_id: int, format: str) -> Label:
    label = Label.objects.filter(package_id=package_id, format=format).first()
    if label is None:
        raise NotFound(f"Package {package_id} has no {format.upper()} label.")
    return label
