"""Pick lists on paper: an A4 PDF in walking order, with a box per line for what was found."""

import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from shipments.models import PickList, PickListLine


def pick_list_pdf(pick_list: PickList, lines: list[PickListLine]) -> bytes:
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=14 * mm,
        rightMargin=14 * mm,
        topMargin=14 * mm,
        bottomMargin=14 * mm,
        title=f"Pick list {pick_list.number}",
    )
    styles = getSampleStyleSheet()
    rows = [["Bin", "SKU", "Product", "Lot / expiry", "Order", "Units", "Found"]]
    for line in lines:
        lot = (
            f"{line.lot_code} {line.lot_expiry:%d %b %Y}"
            if line.lot_code and line.lot_expiry
            else line.lot_code
        )
        rows.append(
            [
                line.bin_code or "-",
                line.sku,
                Paragraph(line.order_line.name, styles["BodyText"]),
                lot or "-",
                line.order_line.order.number,
                str(line.quantity),
                "" if line.qty_picked is None else str(line.qty_picked),
            ]
        )
    table = Table(
        rows, repeatRows=1, colWidths=[20 * mm, 30 * mm, 50 * mm, 30 * mm, 24 * mm, 13 * mm, 15 * mm]
    )
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
    heading = (
        f"Pick list {pick_list.number} - {pick_list.warehouse.code} {pick_list.warehouse.name} - "
        f"released {pick_list.released_at:%d %b %Y %H:%M} by {pick_list.released_by}"
    )
    document.build([Paragraph(heading, styles["Heading2"]), Spacer(1, 4 * mm), table])
    return buffer.getvalue()
