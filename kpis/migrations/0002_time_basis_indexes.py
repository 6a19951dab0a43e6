"""Indexes for the KPI time bases on the histories of the apps below, so that recomputing a day reads
that day's rows and not a year's: an order's move to delivered, a routing decision's and a tracking
event's time (BRIN: these rows arrive in time order, and a BRIN index costs their writes next to
nothing), a shipment's delivery and its ETA's scoring (partial: only rows that have them).
PostgreSQL only: the embedded SQLite's demo-sized tables need none."""

from django.db import migrations

INDEXES = [
    ("kpi_orderevent_delivered", "orders_orderevent", "btree (created_at) WHERE to_status = 'delivered'"),
    ("kpi_routingdecision_created", "routing_routingdecision", "brin (created_at)"),
    (
        "kpi_trackingstate_delivered",
        "tracking_trackingstate",
        "btree (delivered_at) WHERE delivered_at IS NOT NULL",
    ),
    ("kpi_trackingevent_received", "tracking_trackingevent", "brin (received_at)"),
    (
        "kpi_etaprediction_scored",
        "tracking_etaprediction",
        "btree (actual_date) WHERE actual_date IS NOT NULL",
    ),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table, how in INDEXES:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING {how}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _, _ in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("kpis", "0001_initial"),
        ("orders", "0011_order_search_indexes"),
        ("routing", "0006_decision_reserved"),
        ("tracking", "0002_verbose_names"),
    ]

    operations = [migrations.RunPython(create, drop)]
