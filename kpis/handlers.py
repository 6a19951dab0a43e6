"""The KPI app's own events, handled on the notifications queue (its worker sends e-mail): an alert
raised or recovered is e-mailed to the ops list (``KPI_ALERT_RECIPIENTS``)."""

from kpis import services
from oms.events import subscribe
from oms.models import DomainEvent


@subscribe("kpi.alert_raised", queue="notifications")
@subscribe("kpi.alert_recovered", queue="notifications")
def email_ops(event: DomainEvent) -> None:
    services.alert_email(alert_id=int(event.aggregate_id), recovered=event.name == "kpi.alert_recovered")
