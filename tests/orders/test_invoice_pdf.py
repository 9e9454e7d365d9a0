"""Invoice money rules and the invoice PDF, read back with pypdf."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from io import BytesIO

import pytest
from pypdf import PdfReader

from opsdesk.orders.documents import (
    ContactData,
    DocumentError,
    DocumentKind,
    InvoiceData,
    InvoiceLine,
    invoice_number,
    money,
    parse_number,
    render_invoice_pdf,
)
from opsdesk.orders.documents.invoice_pdf import latin1
from tests.orders.conftest import BILL_TO, SELLER, make_invoice


def _text(pdf: bytes) -> str:
    reader = PdfReader(BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def _amount_after(label: str, text: str) -> str:
    match = re.search(re.escape(label) + r"[^\n\d]*([\d,]+\.\d{2})", text)
    assert match is not None, f"{label!r} not in {text!r}"
    return match[1]


def test_money_rounds_half_up_to_cents() -> None:
    assert money("1.005") == Decimal("1.01")
    assert money("0.125") == Decimal("0.13")
    assert money("2.675") == Decimal("2.68")  # a float would say 2.67
    assert money(Decimal("-1.005")) == Decimal("-1.01")
    with pytest.raises(DocumentError):
        money(1.005)  # type: ignore[arg-type]


def test_three_at_0_335_is_1_01_and_gst_is_on_the_subtotal() -> None:
    invoice = make_invoice(lines=(InvoiceLine("CUP-8", "8oz paper cup", Decimal(3), Decimal("0.335"), "pcs"),))

    assert invoice.lines[0].line_total == Decimal("1.01")
    assert (invoice.subtotal, invoice.tax, invoice.total) == (Decimal("1.01"), Decimal("0.08"), Decimal("1.09"))


def test_tax_is_rounded_once_and_spread_over_lines_exactly() -> None:
    lines = tuple(InvoiceLine(f"SKU-{i}", "item", Decimal(1), Decimal("0.31")) for i in range(3))
    invoice = make_invoice(lines=lines)

    assert invoice.subtotal == Decimal("0.93")
    assert invoice.tax == Decimal("0.07")  # 0.0744 rounds to 0.07 (per-line rounding would give 3 x 0.03 = 0.09)
    assert sum(invoice.line_taxes()) == invoice.tax
    assert invoice.line_taxes() == (Decimal("0.03"), Decimal("0.02"), Decimal("0.02"))


def test_invoice_defaults_net_30_gst_8_percent_and_its_number_as_reference() -> None:
    invoice = make_invoice()

    assert invoice.due_date == date(2025, 4, 2)
    assert invoice.terms == "Net 30"
    assert invoice.tax_rate == Decimal("0.08") and invoice.tax_percent == "8%"
    assert invoice.reference == invoice.number == invoice_number(date(2025, 3, 3), 1)
    assert parse_number(invoice.number, DocumentKind.INVOICE).sequence == 1
    assert InvoiceData.from_dict(invoice.to_dict()) == invoice


def test_bad_invoices_are_refused() -> None:
    with pytest.raises(DocumentError, match="at least one line"):
        make_invoice(lines=())
    with pytest.raises(DocumentError, match="tax rate"):
        make_invoice(tax_rate=Decimal(8))
    with pytest.raises(DocumentError, match="quantity must be positive"):
        InvoiceLine("X", "x", Decimal(0), Decimal(1))
    with pytest.raises(DocumentError, match="not a document number"):
        make_invoice(number="INV-1")


def test_pdf_shows_number_dates_lines_and_totals() -> None:
    invoice = make_invoice(
        lines=(
            InvoiceLine("PB-10R", '10" Regular Pizza Box', Decimal(6), Decimal("28.00"), "bundle"),
            InvoiceLine("CUP-8", "8oz paper cup", Decimal(3), Decimal("0.335"), "pcs"),
            InvoiceLine("LN-10", "Liner", Decimal(1200), Decimal("28.00"), "pack"),
        )
    )

    text = _text(render_invoice_pdf(invoice, SELLER))

    assert "TAX INVOICE" in text
    assert "INV-20250303-00001" in text
    assert "Lion City Packaging Pte Ltd" in text and "M90-1234567-8" in text
    assert "Slice Republic Pte Ltd" in text and "12 Marina Boulevard #01-05" in text
    assert "2025-03-03" in text and "2025-04-02" in text and "Net 30" in text
    assert "DO-20250303-00001" in text
    assert re.search(r'10" Regular Pizza Box \(PB-10R\)\s+6\s+bundle\s+28\.00\s+168\.00', text)
    assert re.search(r"8oz paper cup \(CUP-8\)\s+3\s+pcs\s+0\.335\s+1\.01", text)
    assert "33,600.00" in text
    assert _amount_after("Subtotal", text) == "33,769.01"
    assert _amount_after("GST 8%", text) == "2,701.52"
    assert _amount_after("Total (SGD)", text) == "36,470.53"
    assert invoice.total == Decimal("36470.53")


def test_pdf_is_the_same_bytes_for_the_same_invoice() -> None:
    assert render_invoice_pdf(make_invoice(), SELLER) == render_invoice_pdf(make_invoice(), SELLER)


def test_characters_the_core_font_cannot_draw_are_replaced_or_dropped() -> None:
    customer = ContactData(name="Café “Ñoño” \u2013 Mörk 🍕 餐厅", address_lines=("1 Ōtemachi Road…",))
    invoice = make_invoice(bill_to=customer, lines=(InvoiceLine("PB-10R", "Box ✓ “special”", Decimal(1), Decimal(1)),))

    text = _text(render_invoice_pdf(invoice, SELLER))

    assert 'Café "Ñoño" - Mörk' in text
    assert "1 Otemachi Road..." in text
    assert 'Box "special" (PB-10R)' in text
    assert latin1("a\u200bb 🍕 c") == "ab c"


def test_a_zero_rated_invoice_is_a_plain_invoice_with_zero_tax() -> None:
    invoice = make_invoice(tax_rate=Decimal(0), currency="usd", bill_to=BILL_TO)

    text = _text(render_invoice_pdf(invoice, SELLER))

    assert invoice.currency == "USD"
    assert "TAX INVOICE" not in text and "INVOICE" in text
    assert _amount_after("GST 0%", text) == "0.00"
    assert _amount_after("Total (USD)", text) == "304.00"
