"""Bulk order import for marketplaces without an API: a CSV or JSON file, checked whole (every
problem by row and column at once), then taken all or nothing, with the API's dedupe by the
channel's order number; from the dashboard (upload, progress, problems) and from manage.py."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from integrations import imports
from integrations.models import ImportStatus, OrderImport
from oms.errors import ValidationFailed
from oms.models import DomainEvent
from orders.models import Order, OrderEvent
from tests.clock import at, iso
from tests.factories import order_payload

pytestmark = pytest.mark.django_db

HEADER = (
    "external_id,placed_at,currency,email,first_name,last_name,ship_name,ship_line1,ship_city,"
    "ship_postal_code,ship_country,sku,quantity,unit_price,discount,shipping_total"
)


def csv_row(external_id, sku, quantity, unit_price, discount="", *, country="GR", city="Athens", placed=None):
    placed = iso(placed or at(days=-1), 2)
    return (
        f"{external_id},{placed},EUR,buyer.{external_id.lower()}@example.gr,Eleni,Georgiou,Eleni Georgiou,"
        f"Odos Ermou 5,{city},105 63,{country},{sku},{quantity},{unit_price},{discount},4.90"
    )


GOOD = "\n".join(
    [
        HEADER,
        csv_row("MP-1", "TSHIRT-BLK-M", 2, "19.90"),
        csv_row("MP-1", "cap-navy", 1, "15.00", "1.50"),
        csv_row("MP-2", "HOODIE-GRY-L", 1, "49.00"),
        csv_row("MP-3", "CAP-NAVY", 4, "15.00"),
    ]
)


def run(channel, text: str, name: str = "marketplace.csv") -> OrderImport:
    imp = imports.order_import_create(
        channel=channel, file_name=name, raw=text.encode(), uploaded_by="olga", enqueue=False
    )
    return imports.order_import_run(import_id=imp.pk)


def test_a_csv_file_becomes_its_orders_line_by_line(channel, products):
    imp = run(channel, GOOD)
    assert (imp.status, imp.total, imp.created, imp.duplicates, imp.problems) == (
        ImportStatus.DONE,
        3,
        3,
        0,
        [],
    )
    first = Order.objects.select_related("shipping_address").get(external_id="MP-1")
    assert [
        (line.sku, line.quantity, line.unit_price, line.discount)
        for line in first.lines.order_by("line_number")
    ] == [
        ("TSHIRT-BLK-M", 2, Decimal("19.90"), Decimal("0.00")),
        ("CAP-NAVY", 1, Decimal("15.00"), Decimal("1.50")),
    ]
    assert (first.channel_id, first.currency, first.shipping_total, first.total) == (
        channel.pk,
        "EUR",
        Decimal("4.90"),
        Decimal("58.20"),
    )
    assert first.placed_at == at(days=-1)
    assert (first.contact_email, first.shipping_address.line1, first.shipping_address.postal_code) == (
        "buyer.mp-1@example.gr",
        "Odos Ermou 5",
        "105 63",
    )
    assert Order.objects.filter(channel=channel).count() == 3


def test_every_problem_is_named_by_row_and_column_and_nothing_of_the_file_is_taken(channel, products):
    text = "\n".join(
        [
            HEADER,
            csv_row("MP-1", "TSHIRT-BLK-M", 2, "19.90"),
            csv_row("MP-1", "NO-SUCH-SKU", 1, "15.00"),  # row 3
            csv_row("MP-2", "HOODIE-GRY-L", "two", "49.00"),  # row 4
            csv_row("MP-3", "CAP-NAVY", 1, "15.00", country="XX"),  # row 5
            csv_row("", "CAP-NAVY", 1, "15.00"),  # row 6
            csv_row("MP-4", "CAP-NAVY", 1, "15.00"),  # fine, and still not taken
        ]
    )
    events_before = DomainEvent.objects.count()
    imp = run(channel, text)
    assert imp.status == ImportStatus.FAILED
    found = {(p["row"], p["field"]) for p in imp.problems}
    assert found == {(3, "sku"), (4, "quantity"), (5, "ship_country"), (6, "external_id")}, imp.problems
    assert "NO-SUCH-SKU" in next(p["message"] for p in imp.problems if p["row"] == 3)
    # all or nothing: no order, no history row, no event of any of them
    assert not Order.objects.exists() and not OrderEvent.objects.exists()
    assert DomainEvent.objects.count() == events_before


def test_the_same_file_twice_creates_nothing_twice_and_a_mix_takes_only_the_new(channel, products, api):
    assert run(channel, GOOD).created == 3
    again = run(channel, GOOD)
    assert (again.status, again.created, again.duplicates) == (ImportStatus.DONE, 0, 3)
    api.post("/api/v1/orders/", order_payload("MP-9"), format="json")  # the channel's API sent one
    mixed = run(
        channel,
        "\n".join(
            [HEADER, csv_row("MP-9", "CAP-NAVY", 1, "15.00"), csv_row("MP-10", "CAP-NAVY", 1, "15.00")]
        ),
    )
    assert (mixed.created, mixed.duplicates) == (1, 1)
    assert Order.objects.filter(channel=channel).count() == 5


def test_a_json_file_holds_the_apis_order_bodies(channel, products):
    bodies = [order_payload("JS-1"), order_payload("JS-2")]
    imp = run(channel, json.dumps({"orders": bodies}), "orders.json")
    assert (imp.status, imp.created) == (ImportStatus.DONE, 2)
    twice = run(channel, json.dumps([order_payload("JS-3"), order_payload("JS-3")]), "twice.json")
    assert twice.status == ImportStatus.FAILED
    assert twice.problems == [{"row": 2, "field": "external_id", "message": "Also the order of row 1."}]
    bad = run(channel, json.dumps([order_payload("JS-4", currency="XYZ")]), "bad.json")
    assert [(p["row"], p["field"]) for p in bad.problems] == [(1, "currency")]


@pytest.mark.parametrize(
    ("name", "raw", "problem"),
    [
        ("orders.xlsx", b"PK\x03\x04", "A .csv or .json file."),
        ("orders.csv", "external_id\n\u00e9".encode("latin-1"), "Not UTF-8 text"),
        ("orders.csv", b"external_id,sku\nA\x00,B", "NUL bytes"),
        ("orders.csv", b"x" * (imports.MAX_BYTES + 1), "At most 10 MB"),
    ],
)
def test_files_that_are_no_order_files_are_refused_at_the_door(channel, name, raw, problem):
    with pytest.raises(ValidationFailed) as refused:
        imports.order_import_create(channel=channel, file_name=name, raw=raw, uploaded_by="olga")
    assert any(problem in message for message in refused.value.details["file"])
    assert not OrderImport.objects.exists()


def test_a_file_without_the_needed_columns_or_orders_is_refused_by_name(channel, products):
    imp = run(channel, "external_id,quantity\nMP-1,2")
    assert {(p["row"], p["field"]) for p in imp.problems} == {(1, "sku"), (1, "unit_price")}
    assert run(channel, HEADER).problems == [{"row": 1, "field": "file", "message": "No order in the file."}]


def test_ops_upload_a_file_follow_its_progress_and_read_its_problems(
    ops_client, channel, products, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("marketplace.csv", GOOD.encode(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        answer = ops_client.post("/dashboard/integrations/imports/", {"channel": channel.pk, "file": upload})
    imp = OrderImport.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/dashboard/integrations/imports/{imp.pk}/"
    page = ops_client.get(answer["Location"]).content.decode()
    assert "3 orders created" in page and 'hx-trigger="every 1s"' not in page  # done: no more polling
    bad = SimpleUploadedFile("bad.csv", "\n".join([HEADER, csv_row("MP-7", "NOPE", 1, "1.00")]).encode())
    with django_capture_on_commit_callbacks(execute=True):
        answer = ops_client.post("/dashboard/integrations/imports/", {"channel": channel.pk, "file": bad})
    page = ops_client.get(answer["Location"]).content.decode()
    assert "Nothing of the file was taken" in page and "NOPE" in page and '<td class="mono">sku</td>' in page
    # while it runs, the page polls its progress
    waiting = imports.order_import_create(
        channel=channel, file_name="later.csv", raw=GOOD.encode(), uploaded_by="olga", enqueue=False
    )
    partial = ops_client.get(
        f"/dashboard/integrations/imports/{waiting.pk}/", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'hx-trigger="every 1s"' in partial and "<progress" in partial
    listing = ops_client.get("/dashboard/integrations/imports/").content.decode()
    assert "marketplace.csv" in listing and "bad.csv" in listing
    refused = ops_client.post(
        "/dashboard/integrations/imports/",
        {"channel": channel.pk, "file": SimpleUploadedFile("orders.xlsx", b"PK")},
    )
    assert refused.status_code == 200 and "A .csv or .json file." in refused.content.decode()


def test_the_command_imports_a_file_or_names_its_problems(channel, products, tmp_path, capsys):
    good = tmp_path / "marketplace.csv"
    good.write_text(GOOD)
    call_command("orders_import", str(good), "--channel", channel.code)
    assert "3 order(s) created, 0 already there" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([HEADER, csv_row("MP-8", "NOPE", 1, "1.00")]))
    with pytest.raises(CommandError, match=r"nothing of bad\.csv was imported"):
        call_command("orders_import", str(bad), "--channel", channel.code)
    assert "row 2, sku:" in capsys.readouterr().err
    assert Order.objects.count() == 3


def test_an_import_whose_worker_died_is_taken_again(channel, products, clock):
    imp = imports.order_import_create(
        channel=channel, file_name="m.csv", raw=GOOD.encode(), uploaded_by="olga", enqueue=False
    )
    OrderImport.objects.filter(pk=imp.pk).update(
        status=ImportStatus.CHECKING, checked=50
    )  # as a killed worker left it
    assert imports.order_imports_sweep() == 0  # it may still be working
    clock.shift(imports.STALE_AFTER + timedelta(minutes=1))
    imports.order_imports_sweep()  # back in the queue
    clock.shift(timedelta(minutes=3))
    assert imports.order_imports_sweep() == 1
    imp.refresh_from_db()
    assert (imp.status, imp.created) == (ImportStatus.DONE, 3)


def test_nul_characters_in_a_json_file_are_named_not_a_crash(channel, products):
    body = order_payload("JS-\u0000")
    body["shipping_address"]["name"] = "Eleni\u0000"
    imp = run(channel, json.dumps([body]), "nul.json")
    assert imp.status == ImportStatus.FAILED
    assert {p["field"] for p in imp.problems} >= {"external_id", "shipping_address.name"}
    assert not Order.objects.exists()
