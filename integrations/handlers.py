"""The integrations' event handlers: an endpoint disabled after failing is e-mailed to ops (on the
notifications queue, whose worker sends e-mail); a shop's order shipped or cancelled here is to be
told to the shop (on the integrations queue, which waits on the shops' APIs); shipments and credits
become entries of the ERP feeds."""

from integrations import exports, services
from integrations.shops import sync
from oms.events import subscribe
from oms.models import DomainEvent


@subscribe("webhook.endpoint_disabled", queue="notifications")
def email_ops(event: DomainEvent) -> None:
    services.endpoint_disabled_email(endpoint_id=int(event.aggregate_id))


@subscribe("shipment.shipped", queue="integrations")
def tell_shop_shipped(event: DomainEvent) -> None:
    sync.sync_fulfilment_record(shipment_id=event.payload["shipment_id"], order_id=event.payload["order_id"])


@subscribe("shipment.shipped", queue="integrations")
def invoice_shipped(event: DomainEvent) -> None:
    exports.invoice_record(shipment_id=event.payload["shipment_id"], order_id=event.payload["order_id"])


@subscribe("return.credited", queue="integrations")
def export_credit(event: DomainEvent) -> None:
    exports.credit_record(credit_id=event.payload["credit_id"])


@subscribe("return.credited", queue="integrations")
def tell_shop_refunded(event: DomainEvent) -> None:
    sync.sync_refund_record(credit_id=event.payload["credit_id"])


@subscribe("order.cancelled", queue="integrations")
def tell_shop_cancelled(event: DomainEvent) -> None:
    sync.sync_cancellation_record(order_id=int(event.aggregate_id))
