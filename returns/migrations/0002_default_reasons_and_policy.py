"""The reason codes every channel starts with, and the default policy (30 days, no fee, rules on)."""

from django.db import migrations

DEFAULT_REASONS = [
    ("damaged", "Arrived damaged", True, False),
    ("wrong_item", "Wrong item sent", True, False),
    ("not_as_described", "Not as described", True, False),
    ("changed_mind", "Changed my mind", False, False),
    ("too_small", "Too small", False, False),
    ("too_large", "Too large", False, False),
    ("late", "Arrived too late", False, False),
    ("other", "Other (please say why)", False, True),
]


def create(apps, schema_editor):
    ReturnReason = apps.get_model("returns", "ReturnReason")
    ReturnPolicy = apps.get_model("returns", "ReturnPolicy")
    for code, label, merchant_fault, needs_note in DEFAULT_REASONS:
        ReturnReason.objects.get_or_create(
            channel=None,
            code=code,
            defaults={"label": label, "merchant_fault": merchant_fault, "needs_note": needs_note},
        )
    ReturnPolicy.objects.get_or_create(channel=None)


class Migration(migrations.Migration):
    dependencies = [("returns", "0001_returns")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
