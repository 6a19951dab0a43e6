"""A purchase order as the supplier reads it: an A4 PDF and a CSV of its lines (for the supplier's
order entry or an ERP import), both built from the same rows."""

import csv
import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from replenishment.models import PurchaseOrder

CSV_COLUMNS = [
    "purchase_order",
    "supplier",
    "line",
    "sku",
    "product",
    "quantity",
    "received",
    "outstanding",
    "expected_date",
    "deliver_to",
]
# Line, SKU, product, ordered, received, outstanding: the 182 mm between the A4 page's margins.
COLUMNS_MM = (12, 38, 74, 20, 18, 20)


def _rows(purchase_order: PurchaseOrder) -> list[dict]:
    return [
        {
            "purchase_order": str(purchase_order),
            "supplier": purchase_order.supplier.code,
            "line": line.pk,
            "sku": line.product.sku,
            "product": line.product.name,
            "quantity": line.quantity,
            "received": line.received_quantity,
            "outstanding": line.quantity - line.received_quantity,
            "expected_date": purchase_order.expected_date.isoformat() if purchase_order.expected_date else "",
            "deliver_to": purchase_order.warehouse.code,
        }
        for line in purchase_order.lines.select_related("product").order_by("pk")
    ]


def _cell(value: object) -> object:
    # a spreadsheet runs a cell that starts with = + - @ as a formula: a product name is data
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else value


def purchase_order_csv(purchase_order: PurchaseOrder) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in _rows(purchase_order):
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()


def purchase_order_pdf(purchase_order: PurchaseOrder) -> bytes:
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=14 * mm,
        rightMargin=14 * mm,
        topMargin=14 * mm,
        bottomMargin=14 * mm,
        title=f"Purchase order {purchase_order}",
    )
    styles = getSampleStyleSheet()
    text = ParagraphStyle("cell", parent=styles["BodyText"], fontSize=9, leading=11)
    code = ParagraphStyle("code", parent=text, fontName="Courier-Bold")
    warehouse = purchase_order.warehouse
    supplier = purchase_order.supplier
    expected = f"{purchase_order.expected_date:%d %b %Y}" if purchase_order.expected_date else "as agreed"
    address = ", ".join(
        escape(part)
        for part in (
            warehouse.name,
            warehouse.line1,
            warehouse.postal_code,
            warehouse.city,
            warehouse.country,
        )
        if part
    )
    rows = [["Line", "SKU", "Product", "Ordered", "Received", "To deliver"]]
    for row in _rows(purchase_order):
        rows.append(
            [
                str(row["line"]),
                Paragraph(escape(row["sku"]), code),
                Paragraph(escape(row["product"]), text),
                str(row["quantity"]),
                str(row["received"]),
                str(row["outstanding"]),
            ]
        )
    table = Table(rows, repeatRows=1, colWidths=[c * mm for c in COLUMNS_MM])
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 9),
                ("FONT", (0, 1), (-1, -1), "Helvetica", 9),
                ("LINEBELOW", (0, 0), (-1, 0), 1, colors.black),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.grey),
                ("ALIGN", (3, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    story = [
        Paragraph(escape(f"Purchase order {purchase_order}"), styles["Heading1"]),
        Paragraph(f"To: <b>{escape(supplier.name)}</b> ({escape(supplier.code)})", text),
        Paragraph(f"Deliver to: {address}", text),
        Paragraph(f"Expected by: {escape(expected)}", text),
        Paragraph(f"Dated: {purchase_order.created_at:%d %b %Y}", text),
        Spacer(1, 6 * mm),
        table,
        Spacer(1, 6 * mm),
        Paragraph(escape(f"Please quote {purchase_order} on the delivery note and on every parcel."), text),
    ]
    document.build(story)
    return buffer.getvalue()
