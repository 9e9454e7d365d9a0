"""The invoice's A4 page drawn with fpdf2; imported with the first invoice, not with the order routes."""

from __future__ import annotations

import io
from datetime import UTC, datetime, time

from fpdf import FPDF
from fpdf.enums import Align, TableBordersLayout, XPos, YPos
from fpdf.fonts import FontFace
from PIL import Image

from opsdesk.core.pdf import FooteredPDF
from opsdesk.orders.documents.invoice_pdf import format_money, format_price, format_quantity, latin1
from opsdesk.orders.documents.model import InvoiceData, SellerData

_FONT = "Helvetica"
_MARGIN = 15.0
_LINE = 5.0
_GREY = (235, 235, 235)
_LOGO_BOX = (60.0, 18.0)  # mm: the widest and tallest a logo is drawn


def draw_invoice(invoice: InvoiceData, seller: SellerData) -> bytes:
    """The invoice drawn with fpdf2 (see `invoice_pdf.render_invoice_pdf`)."""
    pdf = FooteredPDF(latin1(f"{seller.name} - {invoice.number}"))
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_title(latin1(f"Invoice {invoice.number}"))
    pdf.set_author(latin1(seller.name))
    pdf.set_creator("opsdesk")
    pdf.set_producer("opsdesk")
    pdf.set_creation_date(datetime.combine(invoice.issue_date, time(), tzinfo=UTC))
    pdf.add_page()
    _seller_block(pdf, invoice, seller)
    _parties(pdf, invoice)
    _lines(pdf, invoice)
    _totals(pdf, invoice)
    _notes(pdf, invoice, seller)
    return bytes(pdf.output())


def _logo(pdf: FPDF, logo: bytes) -> None:
    """The seller's logo above its name, fitted into 60 x 18 mm; an image that cannot be read is left out."""
    try:
        with Image.open(io.BytesIO(logo)) as image:
            width, height = image.size
        scale = min(_LOGO_BOX[0] / width, _LOGO_BOX[1] / height)
        pdf.image(io.BytesIO(logo), x=_MARGIN, y=pdf.get_y(), w=width * scale, h=height * scale)
    except Exception:  # checked at upload; a stored image that cannot be drawn must never stop an invoice
        return
    pdf.set_y(pdf.get_y() + height * scale + 3)


def _seller_block(pdf: FPDF, invoice: InvoiceData, seller: SellerData) -> None:
    if seller.logo:
        _logo(pdf, seller.logo)
    top = pdf.get_y()
    pdf.set_font(_FONT, "B", 14)
    pdf.multi_cell(110, 7, latin1(seller.name), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FONT, size=9)
    details = [*seller.address_lines]
    if seller.registration_number:
        details.append(f"Company reg. no.: {seller.registration_number}")
    if seller.tax_registration:
        details.append(f"{invoice.tax_label} reg. no.: {seller.tax_registration}")
    contact = " | ".join(part for part in (seller.phone, seller.email) if part)
    if contact:
        details.append(contact)
    for line in details:
        pdf.cell(110, 4.5, latin1(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    bottom = pdf.get_y()
    pdf.set_xy(pdf.w - _MARGIN - 70, top)
    pdf.set_font(_FONT, "B", 18)
    title = "TAX INVOICE" if invoice.tax > 0 else "INVOICE"
    pdf.cell(70, 9, title, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(bottom, pdf.get_y()) + 6)


def _parties(pdf: FPDF, invoice: InvoiceData) -> None:
    top = pdf.get_y()
    pdf.set_font(_FONT, "B", 10)
    pdf.cell(95, _LINE, "Bill to", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FONT, size=10)
    bill_to = invoice.bill_to
    for line in (bill_to.name, *bill_to.address_lines, bill_to.email, bill_to.phone):
        if line:
            pdf.multi_cell(95, _LINE, latin1(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if bill_to.tax_number:
        pdf.cell(95, _LINE, latin1(f"{invoice.tax_label} reg. no.: {bill_to.tax_number}"), new_y=YPos.NEXT)
    left_bottom = pdf.get_y()
    meta = [
        ("Invoice no.", invoice.number),
        ("Invoice date", invoice.issue_date.isoformat()),
        ("Due date", invoice.due_date.isoformat()),
        ("Terms", invoice.terms),
        ("Currency", invoice.currency),
    ]
    if invoice.reference != invoice.number:
        meta.append(("Reference", invoice.reference))
    if invoice.delivery_order_number:
        meta.append(("Delivery order", invoice.delivery_order_number))
    if bill_to.account_number:
        meta.append(("Account", bill_to.account_number))
    x = pdf.w - _MARGIN - 80
    pdf.set_y(top)
    for label, value in meta:
        pdf.set_x(x)
        pdf.set_font(_FONT, "B", 10)
        pdf.cell(30, _LINE, label)
        pdf.set_font(_FONT, size=10)
        pdf.cell(50, _LINE, latin1(value), align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(left_bottom, pdf.get_y()) + 6)


def _lines(pdf: FPDF, invoice: InvoiceData) -> None:
    pdf.set_font(_FONT, size=9)
    headings = FontFace(emphasis="BOLD", fill_color=_GREY)
    with pdf.table(
        col_widths=(8, 86, 16, 18, 24, 28),
        text_align=("RIGHT", "LEFT", "RIGHT", "LEFT", "RIGHT", "RIGHT"),
        headings_style=headings,
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        line_height=_LINE,
        padding=(1, 1, 1, 1),
    ) as table:
        heading = table.row()
        for title in ("#", "Description", "Qty", "Unit", f"Unit price ({invoice.currency})", "Amount"):
            heading.cell(title)
        for index, line in enumerate(invoice.lines, start=1):
            row = table.row()
            row.cell(str(index))
            row.cell(latin1(f"{line.description} ({line.sku})" if line.sku else line.description))
            row.cell(format_quantity(line.quantity))
            row.cell(latin1(line.unit))
            row.cell(format_price(line.unit_price))
            row.cell(format_money(line.line_total))
    pdf.ln(4)


def _totals(pdf: FPDF, invoice: InvoiceData) -> None:
    rows = (
        ("Subtotal", format_money(invoice.subtotal), False),
        (f"{invoice.tax_label} {invoice.tax_percent}", format_money(invoice.tax), False),
        (f"Total ({invoice.currency})", f"{invoice.currency} {format_money(invoice.total)}", True),
    )
    if pdf.will_page_break(_LINE * 4):
        pdf.add_page()
    x = pdf.w - _MARGIN - 80
    for label, amount, bold in rows:
        pdf.set_x(x)
        pdf.set_font(_FONT, "B" if bold else "", 11 if bold else 10)
        pdf.cell(45, _LINE + 1, label, border="T" if bold else 0)
        pdf.cell(35, _LINE + 1, amount, align=Align.R, border="T" if bold else 0, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(6)


def _notes(pdf: FPDF, invoice: InvoiceData, seller: SellerData) -> None:
    pdf.set_font(_FONT, size=9)
    notes = [f"Payment terms: {invoice.terms}. Please pay by {invoice.due_date.isoformat()}, quoting {invoice.number}."]
    if seller.payment_instructions:
        notes.append(seller.payment_instructions)
    for note in notes:
        pdf.multi_cell(0, 4.5, latin1(note), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
