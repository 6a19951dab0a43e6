"""The integrations' own events, for ops: an endpoint disabled after failing is e-mailed to
``WEBHOOK_ALERT_RECIPIENTS`` (on the notifications queue, whose worker sends e-mail)."""

from integrations import services
from oms.events import subscribe
from oms.models import DomainEvent


@subscribe("webhook.endpoint_disabled", queue="notifications")
def email_ops(event: DomainEvent) -> None:
    services.endpoint_disabled_email(endpoint_id=int(event.aggregate_id))
