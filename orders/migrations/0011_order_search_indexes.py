"""Indexes for the order list's search at a million orders: the channel's order number in any case
(every database), and on PostgreSQL trigram indexes for the customer's e-mail prefix and parts of
names (``UPPER(col) LIKE UPPER('%word%')``, which is what the ORM's icontains and istartswith send).
SQLite (the embedded mode) has no pg_trgm; its demo-sized tables need none."""

import django.db.models.functions.text
from django.db import migrations, models

TRIGRAM_COLUMNS = ("email", "first_name", "last_name")


def create_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in TRIGRAM_COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS customer_{column}_trgm ON orders_customer "
            f"USING gin (UPPER({column}::text) gin_trgm_ops)"
        )


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in TRIGRAM_COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS customer_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0010_order_list_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="order",
            index=models.Index(
                django.db.models.functions.text.Upper("external_id"), name="order_external_id_upper"
            ),
        ),
        migrations.RunPython(create_trigram_indexes, drop_trigram_indexes),
    ]
