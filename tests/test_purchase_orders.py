"""A purchase order goes to its supplier: sent once by e-mail with its PDF and CSV, downloadable from
the dashboard, and its page says which backorders it will serve."""

import io
from datetime import timedelta

import pypdfium2
import pytest
from django.utils import timezone

from oms.events import outbox_publish_pending
from orders.models import Product
from replenishment import services as replenishment
from replenishment.documents import purchase_order_csv
from replenishment.models import PurchaseOrder, PurchaseOrderLine, Supplier
from tests.factories import make_warehouse

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(products):
    dc = make_warehouse("DC")
    supplier = Supplier.objects.create(
        code="acme", name="Acme Caps", email="orders@acme.example", lead_time_days=7
    )
    po = PurchaseOrder.objects.create(
        supplier=supplier, warehouse=dc, expected_date=timezone.localdate() + timedelta(days=7)
    )
    PurchaseOrderLine.objects.create(
        purchase_order=po, product=Product.objects.get(sku="CAP-NAVY"), quantity=24
    )
    hoodie = Product.objects.get(sku="HOODIE-GRY-L")
    Product.objects.filter(pk=hoodie.pk).update(name='=HYPERLINK("http://x")')  # a hostile name
    PurchaseOrderLine.objects.create(purchase_order=po, product=hoodie, quantity=6, received_quantity=0)
    return po


def pdf_text(content: bytes) -> str:
    document = pypdfium2.PdfDocument(io.BytesIO(content))
    return "\n".join(page.get_textpage().get_text_range() for page in document)


def test_a_sent_purchase_order_is_emailed_once_with_its_pdf_and_csv(draft, mailoutbox):
    replenishment.purchase_order_send(purchase_order_id=draft.pk, actor="olga")
    assert mailoutbox == []  # not before the transaction's event is handled
    outbox_publish_pending()
    (message,) = mailoutbox
    assert message.to == ["orders@acme.example"]
    assert message.subject == f"Purchase order {draft} for delivery to {draft.warehouse.name}"
    names = [name for name, _, _ in message.attachments]
    assert names == [f"{draft}.pdf", f"{draft}.csv"]
    pdf = message.attachments[0][1]
    text = pdf_text(pdf)
    assert f"Purchase order {draft}" in text and "Acme Caps" in text and "CAP-NAVY" in text
    assert message.attachments[1][1] == purchase_order_csv(draft)
    draft.refresh_from_db()
    assert (draft.emailed_to, draft.emailed_at is not None, draft.sent_at is not None) == (
        "orders@acme.example",
        True,
        True,
    )
    # a redelivered event, or a second call, sends nothing more
    assert replenishment.purchase_order_email(purchase_order_id=draft.pk) is False
    assert len(mailoutbox) == 1


def test_a_supplier_without_an_address_gets_no_mail_and_the_page_says_so(draft, mailoutbox, ops_client):
    Supplier.objects.filter(pk=draft.supplier_id).update(email="")
    replenishment.purchase_order_send(purchase_order_id=draft.pk, actor="olga")
    outbox_publish_pending()
    assert mailoutbox == []
    page = ops_client.get("/dashboard/replenishment/purchase-orders/").content.decode()
    assert "no e-mail address on file for Acme Caps" in page


def test_the_csv_has_one_row_per_line_and_no_formula(draft):
    rows = purchase_order_csv(draft).splitlines()
    assert (
        rows[0]
        == "purchase_order,supplier,line,sku,product,quantity,received,outstanding,expected_date,deliver_to"
    )
    expected = (timezone.localdate() + timedelta(days=7)).isoformat()
    cap, hoodie = draft.lines.order_by("pk")
    assert rows[1] == f"{draft},acme,{cap.pk},CAP-NAVY,{cap.product.name},24,0,24,{expected},DC"
    assert rows[2].startswith(f"{draft},acme,{hoodie.pk},HOODIE-GRY-L,\"'=HYPERLINK(")


def test_ops_download_the_pdf_and_csv(draft, ops_client):
    from django.test import Client

    pdf = ops_client.get(f"/dashboard/replenishment/purchase-orders/{draft.pk}/order.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert f'filename="{draft}.pdf"' in pdf["Content-Disposition"]
    assert "To deliver" in pdf_text(pdf.content)
    csv = ops_client.get(f"/dashboard/replenishment/purchase-orders/{draft.pk}/order.csv")
    assert csv.status_code == 200 and csv.content.decode() == purchase_order_csv(draft)
    assert ops_client.get("/dashboard/replenishment/purchase-orders/999999/order.pdf").status_code == 404
    assert Client().get(f"/dashboard/replenishment/purchase-orders/{draft.pk}/order.csv").status_code == 302
