"""Shipping labels drawn by the OMS: a 4 x 6 inch PDF and the same label in ZPL for thermal printers.

Both carry the tracking number as a Code 128 barcode (what every carrier's scanners read), the
sender and recipient addresses, the carrier and service, our shipment reference and the package's
place in the shipment. Carriers that send their own label files have those stored as received.
"""

import io
from dataclasses import dataclass

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.units import inch
from reportlab.pdfgen import canvas

from shipments.carriers.base import Party

WIDTH, HEIGHT = 4 * inch, 6 * inch
LABEL_CONTENT_TYPES = {"pdf": "application/pdf", "zpl": "text/plain", "png": "image/png"}


@dataclass(frozen=True)
class LabelData:
    tracking_number: str
    carrier: str
    service: str
    reference: str
    order_number: str
    package_index: int
    package_count: int
    weight_grams: int
    sender: Party
    recipient: Party


def _address_lines(party: Party) -> list[str]:
    lines = [party.name]
    if party.company:
        lines.append(party.company)
    lines.append(party.line1)
    if party.line2:
        lines.append(party.line2)
    lines.append(" ".join(p for p in (party.postal_code, party.city, party.region) if p))
    lines.append(party.country)
    return lines


def label_pdf(data: LabelData) -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=(WIDTH, HEIGHT))
    page.setTitle(f"Label {data.tracking_number}")
    margin = 0.15 * inch
    top = HEIGHT - margin

    page.setFont("Helvetica-Bold", 14)
    page.drawString(margin, top - 14, data.carrier.upper())
    page.setFont("Helvetica", 10)
    page.drawRightString(WIDTH - margin, top - 12, data.service)
    page.line(margin, top - 22, WIDTH - margin, top - 22)

    page.setFont("Helvetica", 7)
    y = top - 34
    page.drawString(margin, y, "FROM")
    for text in _address_lines(data.sender):
        y -= 9
        page.drawString(margin, y, text)

    y -= 18
    page.setFont("Helvetica-Bold", 9)
    page.drawString(margin, y, "SHIP TO")
    page.setFont("Helvetica-Bold", 13)
    for text in _address_lines(data.recipient):
        y -= 16
        page.drawString(margin, y, text)

    y -= 14
    page.line(margin, y, WIDTH - margin, y)
    page.setFont("Helvetica", 8)
    y -= 12
    page.drawString(margin, y, f"Order {data.order_number}   Shipment {data.reference}")
    y -= 11
    page.drawString(
        margin,
        y,
        f"Package {data.package_index} of {data.package_count}   {data.weight_grams / 1000:.2f} kg",
    )

    # Quiet zones of ten modules on each side are part of Code 128; the widths keep them inside the page.
    barcode = Code128(data.tracking_number, barHeight=1.1 * inch, barWidth=1.3, quiet=True)
    x = max((WIDTH - barcode.width) / 2, 0)
    barcode.drawOn(page, x, margin + 26)
    page.setFont("Helvetica-Bold", 12)
    page.drawCentredString(WIDTH / 2, margin + 8, data.tracking_number)
    page.showPage()
    page.save()
    return buffer.getvalue()


def _zpl_text(text: str) -> str:
    # ^ and ~ start ZPL commands; a label never needs them.
    return text.replace("^", " ").replace("~", " ")


def label_zpl(data: LabelData) -> str:
    """The same label for 203 dpi thermal printers (812 x 1218 dots)."""
    parts = ["^XA", "^CI28", "^PW812", "^LL1218"]
    parts.append(f"^FO30,30^A0N,40,40^FD{_zpl_text(data.carrier.upper())}^FS")
    parts.append(f"^FO450,38^A0N,28,28^FD{_zpl_text(data.service)}^FS")
    parts.append("^FO30,85^GB752,3,3^FS")
    y = 105
    parts.append(f"^FO30,{y}^A0N,22,22^FDFROM^FS")
    for text in _address_lines(data.sender):
        y += 26
        parts.append(f"^FO30,{y}^A0N,22,22^FD{_zpl_text(text)}^FS")
    y += 50
    parts.append(f"^FO30,{y}^A0N,28,28^FDSHIP TO^FS")
    for text in _address_lines(data.recipient):
        y += 42
        parts.append(f"^FO30,{y}^A0N,38,38^FD{_zpl_text(text)}^FS")
    y += 60
    parts.append(f"^FO30,{y}^GB752,3,3^FS")
    parts.append(
        f"^FO30,{y + 20}^A0N,24,24^FDOrder {_zpl_text(data.order_number)}  Shipment {data.reference}^FS"
    )
    parts.append(
        f"^FO30,{y + 52}^A0N,24,24^FDPackage {data.package_index} of {data.package_count}  "
        f"{data.weight_grams / 1000:.2f} kg^FS"
    )
    parts.append(f"^FO60,880^BY3^BCN,220,Y,N,N^FD{_zpl_text(data.tracking_number)}^FS")
    parts.append("^XZ")
    return "\n".join(parts) + "\n"
