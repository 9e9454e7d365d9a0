"""End to end over the API with Xero configured: a templated order becomes a delivery order, a PDF invoice and one
authorised Xero invoice; the same message again creates nothing."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from opsdesk.auth.roles import Role
from tests.fakes.xero_server import FakeXero, ms_date
from tests.orders.order_helpers import (
    FORM_ORDER,
    FORM_SUBTOTAL,
    FORM_TAX,
    FORM_TOTAL,
    TAMPINES_PHONE,
    Desk,
    counts,
    open_desk,
    xero_settings,
)


@pytest.fixture
async def desk(database_url: str, tmp_path: Path, fake_xero: FakeXero) -> AsyncIterator[Desk]:
    async with open_desk(database_url, tmp_path, **xero_settings(fake_xero)) as opened:
        yield opened


async def test_templated_order_to_delivery_order_invoice_and_one_xero_invoice(desk: Desk, fake_xero: FakeXero) -> None:
    headers = desk.tenant.headers(Role.service)
    message = {"session_id": "wa-6591234502", "sender_phone": TAMPINES_PHONE, "text": FORM_ORDER, "message_id": "w1"}
    async with desk.client() as http:
        asked = await http.post(desk.url("/orders/messages"), json=message, headers=headers)
        assert asked.status_code == 200, asked.text
        question = asked.json()
        assert question["awaiting"] == "confirmation" and "Reply YES" in question["reply"]
        assert f"total SGD {FORM_TOTAL}" in question["reply"]
        assert fake_xero.api_requests() == 0  # nothing is posted before the customer says yes

        yes = {"session_id": "wa-6591234502", "sender_phone": TAMPINES_PHONE, "text": "YES", "message_id": "w2"}
        done = (await http.post(desk.url("/orders/messages"), json=yes, headers=headers)).json()
        assert done["outcome"] == "completed" and done["order_status"] == "confirmed"
        number = done["order_number"]

        order = (await http.get(desk.url(f"/orders/{number}"), headers=headers)).json()
        assert order["invoice"]["status"] == "posted" and order["invoice"]["backend"] == "xero"
        do_number, invoice_number = order["delivery_order"]["number"], order["invoice"]["number"]

        sheet_response = await http.get(desk.url(f"/orders/{number}/delivery-order.xlsx"), headers=headers)
        pdf_response = await http.get(desk.url(f"/orders/{number}/invoice.pdf"), headers=headers)

        again = (await http.post(desk.url("/orders/messages"), json=message, headers=headers)).json()
        same_text = dict(message, message_id=None)
        retyped = (await http.post(desk.url("/orders/messages"), json=same_text, headers=headers)).json()

    assert sheet_response.status_code == 200
    assert sheet_response.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(sheet_response.content)).active
    assert sheet["B4"].value == do_number and do_number.startswith("DO-")
    assert sheet["B5"].value == "Slice Republic Tampines"
    assert sheet["B6"].value == "Slice Republic Pte Ltd"
    assert sheet["E6"].value == number
    assert sheet["E4"].value.date() == date.fromisoformat(order["delivery_date"])
    rows = [[sheet.cell(row, column).value for column in range(2, 7)] for row in range(10, 13)]
    assert rows == [
        ["PB-10R", '10" Regular Pizza Box', 6, "bundle", 6],
        ["PB-12R", '12" Regular Pizza Box', 4, "bundle", 4],
        ["PL-GP", "Greaseproof Pizza Box Liner", 3, "pack", 3],
    ]

    assert pdf_response.status_code == 200 and pdf_response.content.startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf_response.content)).pages)
    assert invoice_number in text and "Slice Republic Pte Ltd" in text
    assert FORM_SUBTOTAL in text and FORM_TAX in text and f"SGD {FORM_TOTAL}" in text
    assert "GST 8%" in text and "Net 30" in text

    [held] = fake_xero.invoices_with_reference(invoice_number)
    assert held["Status"] == "AUTHORISED" and held["Type"] == "ACCREC"
    assert held["InvoiceNumber"] == invoice_number
    assert held["Contact"]["Name"] == "Slice Republic Pte Ltd"
    assert [(line["Quantity"], line["UnitAmount"], line["TaxType"]) for line in held["LineItems"]] == [
        (Decimal(6), Decimal("28.00"), "OUTPUT"),
        (Decimal(4), Decimal("34.00"), "OUTPUT"),
        (Decimal(3), Decimal("6.50"), "OUTPUT"),
    ]
    assert (held["SubTotal"], held["TotalTax"], held["Total"]) == (
        Decimal(FORM_SUBTOTAL),
        Decimal(FORM_TAX),
        Decimal(FORM_TOTAL),
    )
    assert (ms_date(held["DueDate"]) - ms_date(held["Date"])).days == 30
    assert len(fake_xero.invoices) == 1

    assert again["duplicate"] and again["order_number"] == number
    assert retyped["duplicate"] and retyped["outcome"] == "duplicate_order" and retyped["order_number"] == number
    assert await counts(desk.ctx, desk.workspace_id) == (1, 1, 1)
    assert len(fake_xero.invoices) == 1
