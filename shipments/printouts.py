"""Pick lists on paper: an A4 PDF in walking order, with a box per line for what was found."""

import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from shipments.models import PickList, PickListLine

# Bin, SKU, product, lot / expiry, order, units, found: the A4 page's 182 mm between its margins.
COLUMNS_MM = (18, 30, 46, 34, 28, 12, 14)


def pick_list_pdf(pick_list: PickList, lines: list[PickListLine]) -> bytes:
    return pick_lists_pdf([(pick_list, lines)])


def pick_lists_pdf(lists: list[tuple[PickList, list[PickListLine]]]) -> bytes:
    """One PDF for several pick lists (a page break between them), to print in one go."""
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=14 * mm,
        rightMargin=14 * mm,
        topMargin=14 * mm,
        bottomMargin=14 * mm,
        title=", ".join(f"Pick list {pick_list.number}" for pick_list, _ in lists),
    )
    styles = getSampleStyleSheet()
    story = []
    for index, (pick_list, lines) in enumerate(lists):
        if index:
            story.append(PageBreak())
        heading = (
            f"Pick list {pick_list.number} - {pick_list.warehouse.code} {pick_list.warehouse.name} - "
            f"released {pick_list.released_at:%d %b %Y %H:%M} by {pick_list.released_by}"
        )
        story += [Paragraph(escape(heading), styles["Heading2"]), Spacer(1, 4 * mm), _table(lines, styles)]
    document.build(story)
    return buffer.getvalue()


def _table(lines: list[PickListLine], styles) -> Table:
    # Every cell that can be long is a paragraph, so it wraps inside its column instead of printing
    # over the next one (a lot code with its expiry date did, over the order number).
    code = ParagraphStyle("code", parent=styles["BodyText"], fontName="Courier-Bold", fontSize=9, leading=11)
    text = ParagraphStyle("cell", parent=styles["BodyText"], fontSize=9, leading=11)
    rows = [["Bin", "SKU", "Product", "Lot / expiry", "Order", "Units", "Found"]]
    for line in lines:
        lot = escape(line.lot_code or "-")
        if line.lot_code and line.lot_expiry:
            lot += f"<br/>{line.lot_expiry:%d %b %Y}"
        rows.append(
            [
                Paragraph(escape(line.bin_code or "-"), code),
                Paragraph(escape(line.sku), code),
                Paragraph(escape(line.order_line.name), text),
                Paragraph(lot, text),
                Paragraph(line.order_line.order.number, text),
                str(line.quantity),
                "" if line.qty_picked is None else str(line.qty_picked),
            ]
        )
    table = Table(rows, repeatRows=1, colWidths=[c * mm for c in COLUMNS_MM])
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 9),
                ("FONT", (0, 1), (-1, -1), "Helvetica", 9),
                ("FONT", (0, 1), (1, -1), "Courier-Bold", 10),
                ("LINEBELOW", (0, 0), (-1, 0), 1, colors.black),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.grey),
                ("BOX", (-1, 1), (-1, -1), 0.5, colors.black),
                ("ALIGN", (-2, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table
