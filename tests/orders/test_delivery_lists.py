"""Delivery lists over the API: the plain layout, a workspace's own template filled through its mapping (only mapped
columns written; a copied day sheet keeping the customer's numbering, logo, print and page settings), user data
written as text, bad uploads refused with a clear error, cancelled orders left out, and one workspace never seeing
another's template or list."""

from __future__ import annotations

import io
import json
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.drawing.image import Image
from PIL import Image as PillowImage

from opsdesk.auth.roles import Role
from opsdesk.orders import billing, repository
from opsdesk.orders.chat.handlers import handle_order_message
from opsdesk.orders.delivery.service import MAX_TEMPLATE_BYTES
from opsdesk.orders.documents import DeliveryOrderData
from opsdesk.orders.models import DeliveryTemplate
from tests.knowledge.sample_documents import rezip
from tests.orders.order_helpers import FORM_ORDER, TAMPINES_PHONE, Desk, add_tenant

_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAPPING = {
    "sheet_pattern": "{weekday}",
    "first_data_row": 3,
    "columns": {
        "number": "A",
        "company": "B",
        "place": "C",
        "cartons": "D",
        "remark": None,
        "products": {"PB-10R": "E"},
    },
}


def _headers(desk: Desk, role: Role = Role.operator) -> dict[str, str]:
    return desk.tenant.headers(role)


async def _confirmed(desk: Desk, http: httpx.AsyncClient, session_id: str, text: str = FORM_ORDER) -> dict[str, Any]:
    reply = await handle_order_message(desk.ctx, desk.workspace_id, session_id, TAMPINES_PHONE, text)
    assert reply.awaiting == "confirmation", reply.reply
    response = await http.post(desk.url(f"/orders/{reply.order_number}/confirm"), json={}, headers=_headers(desk))
    assert response.status_code == 200, response.text
    order: dict[str, Any] = response.json()
    return order


async def _delivery(desk: Desk, number: str) -> DeliveryOrderData:
    async with desk.ctx.db.session() as session:
        order = await repository.get_order(session, desk.workspace_id, number)
        return DeliveryOrderData.from_dict((await billing.delivery_order_of(session, order)).data)


def _user_workbook() -> bytes:
    """A hand-kept delivery list: a title row, a header row, one row already filled in on Monday's sheet."""
    workbook = Workbook()
    template = workbook.active
    template.title = "Mon"
    template.append(["Deliveries", None, None, None, None])
    template.append(["DO", "Company", "Deliver to", "Ctns", '10" boxes'])
    template.append(["DO-20250303-09999", "Kept by hand", "Somewhere", 2, None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def _put_template(
    http: httpx.AsyncClient, desk: Desk, data: bytes, mapping: Any = MAPPING, name: str = "deliveries.xlsx"
) -> httpx.Response:
    return await http.put(
        desk.url("/delivery-lists/template"),
        files={"file": (name, data, _XLSX)},
        data={"mapping": mapping if isinstance(mapping, str) else json.dumps(mapping)},
        headers=_headers(desk),
    )


async def _list(http: httpx.AsyncClient, desk: Desk, first: date, last: date) -> httpx.Response:
    query = f"date_from={first.isoformat()}&date_to={last.isoformat()}"
    return await http.get(desk.url(f"/delivery-lists/workbook.xlsx?{query}"), headers=_headers(desk, Role.viewer))


async def test_plain_list_has_a_sheet_per_day_and_a_row_per_delivery(desk: Desk, http: httpx.AsyncClient) -> None:
    first = await _confirmed(desk, http, "s1")
    second = await _confirmed(desk, http, "s2", "Outlet: Bao Bros\n14 inch regular box 2 bundles")
    days = sorted({date.fromisoformat(o["delivery_order"]["delivery_date"]) for o in (first, second)})

    response = await _list(http, desk, days[0] - timedelta(days=1), days[-1] + timedelta(days=1))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == _XLSX and response.headers["x-opsdesk-deliveries"] == "2"
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == [f"{day.isoformat()} {_WEEKDAYS[day.weekday()]}" for day in days]
    rows = {}
    for sheet in workbook.worksheets:
        assert [cell.value for cell in sheet[1]][:4] == ["DO number", "Company", "Place of delivery", "Cartons"]
        for row in sheet.iter_rows(min_row=2, values_only=True):
            rows[row[0]] = row
    for order in (first, second):
        delivery = await _delivery(desk, order["number"])
        row = rows[delivery.number]
        assert row[1] == delivery.company and row[3] == delivery.total_cartons
        assert isinstance(row[5], datetime) and row[5].date() == delivery.delivery_date


async def test_own_template_is_kept_and_filled_through_its_mapping(desk: Desk, http: httpx.AsyncClient) -> None:
    order = await _confirmed(desk, http, "s1")
    delivery = await _delivery(desk, order["number"])
    day = delivery.delivery_date

    uploaded = _user_workbook()
    saved = await _put_template(http, desk, uploaded)
    info = await http.get(desk.url("/delivery-lists/template"), headers=_headers(desk, Role.viewer))
    original = await http.get(desk.url("/delivery-lists/template.xlsx"), headers=_headers(desk, Role.viewer))
    filled = await _list(http, desk, day, day)

    assert saved.status_code == 200, saved.text
    assert info.json()["sheets"] == ["Mon"] and info.json()["mapping"] == MAPPING
    assert original.content == uploaded and "deliveries.xlsx" in original.headers["content-disposition"]
    workbook = load_workbook(io.BytesIO(filled.content))
    sheet = workbook[_WEEKDAYS[day.weekday()]]
    if day.weekday() == 0:  # Monday's sheet already holds a row kept by hand: the delivery goes below it
        assert sheet["A3"].value == "DO-20250303-09999"
        row = 4
    else:  # a new day sheet, copied from the first, with its headers and without the sample row
        assert sheet["A2"].value == "DO" and sheet["A3"].value == delivery.number
        row = 3
    assert sheet.cell(row=row, column=1).value == delivery.number
    assert sheet.cell(row=row, column=2).value == delivery.company
    assert sheet.cell(row=row, column=4).value == delivery.total_cartons
    ten_inch = sum(line.quantity for line in delivery.lines if line.sku == "PB-10R")
    assert sheet.cell(row=row, column=5).value == ten_inch and ten_inch > 0

    removed = await http.delete(desk.url("/delivery-lists/template"), headers=_headers(desk))
    gone = await http.get(desk.url("/delivery-lists/template"), headers=_headers(desk, Role.viewer))
    assert removed.status_code == 204 and gone.status_code == 404 and gone.json()["error"]["code"] == "no_template"


async def test_cancelled_orders_are_left_out(desk: Desk, http: httpx.AsyncClient) -> None:
    order = await _confirmed(desk, http, "s1")
    day = date.fromisoformat(order["delivery_order"]["delivery_date"])
    cancel = await http.post(
        desk.url(f"/orders/{order['number']}/cancel"), json={"reason": "closed"}, headers=_headers(desk)
    )
    assert cancel.status_code == 200, cancel.text

    response = await _list(http, desk, day, day)

    assert response.status_code == 200 and response.headers["x-opsdesk-deliveries"] == "0"
    assert load_workbook(io.BytesIO(response.content)).sheetnames == ["Deliveries"]


@pytest.mark.parametrize(
    ("data", "mapping", "name", "status", "code"),
    [
        (b"", MAPPING, "t.xlsx", 400, "empty_file"),
        (b"DO,Company\n", MAPPING, "t.csv", 400, "unsupported_type"),
        (b"not a workbook at all", MAPPING, "t.xlsx", 400, "unsupported_type"),
        (b"PK\x03\x04 damaged", MAPPING, "t.xlsx", 400, "bad_workbook"),
        ("bomb", MAPPING, "t.xlsx", 400, "bad_workbook"),
        ("big", MAPPING, "t.xlsx", 413, "file_too_large"),
        ("ok", "{not json", "t.xlsx", 400, None),
        ("ok", {"columns": {"number": "A", "company": "A"}}, "t.xlsx", 422, "invalid_mapping"),
        ("ok", {"colour": "red"}, "t.xlsx", 422, "invalid_mapping"),
        ("ok", {"template_sheet": "Nowhere"}, "t.xlsx", 422, "invalid_mapping"),  # and no columns
        ("ok", {"template_sheet": "Nowhere", "columns": {"number": "A"}}, "t.xlsx", 400, None),
    ],
)
async def test_bad_templates_are_refused_with_a_reason(
    desk: Desk, http: httpx.AsyncClient, data: Any, mapping: Any, name: str, status: int, code: str | None
) -> None:
    if data == "ok":
        data = _user_workbook()
    elif data == "bomb":
        data = rezip(_user_workbook(), add={"xl/padding.xml": b" " * (60 * 1024 * 1024)})
    elif data == "big":
        data = b"PK\x03\x04" + b"\0" * MAX_TEMPLATE_BYTES  # one part over: refused before it is opened

    response = await _put_template(http, desk, data, mapping, name)

    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"] and (code is None or error["code"] == code)
    assert (await http.get(desk.url("/delivery-lists/template"), headers=_headers(desk))).status_code == 404


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"sheet_pattern": "{date.x}"}, "{date.x}"),
        ({"sheet_pattern": "{date.__class__.__name__}"}, "is not a field"),
        ({"sheet_pattern": "{weekday:>20000000}"}, "is not allowed"),
        ({"sheet_pattern": "{date:%d-%m-%Y %H}"}, "is not allowed"),
        ({"sheet_pattern": "{0}"}, "is not a field"),
        ({"sheet_pattern": "{date"}, "sheet_pattern"),
        ({"company_format": "{number:>20000000}"}, "{number:>20000000}"),
        ({"company_format": "{company!r}"}, "conversions"),
        ({"place_format": "{outlet_name[0]}"}, "is not a field"),
        ({"place_format": "{delivery_date:{weekday}}"}, "is not allowed"),
        ({"place_format": "{x}" * 100}, "at most 200 characters"),
        ({"first_data_row": 10**12}, "first_data_row"),
        ({"first_data_row": "3"}, "first_data_row"),
        ({"first_data_row": 0}, "first_data_row"),
        ({"first_data_row": 10_001}, "first_data_row"),
        ({"first_data_row": 2.5}, "first_data_row"),
        ({"last_data_row": "40"}, "last_data_row"),
        ({"columns": {"number": ["A"]}}, "column number"),
        ({"columns": {"number": 10**9}}, "column number"),
        ({"columns": {"number": "A", "products": ["PB-10R"]}}, "products"),
        ({"columns": ["A", "B"]}, "columns"),
        ({"template_sheet": 7}, "template_sheet"),
    ],
)
async def test_mapping_values_are_checked_with_a_clear_422(
    desk: Desk, http: httpx.AsyncClient, change: dict[str, Any], named: str
) -> None:
    response = await _put_template(http, desk, _user_workbook(), {**MAPPING, **change})

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_mapping" and named in error["message"]
    assert len(response.content) < 2_000
    assert (await http.get(desk.url("/delivery-lists/template"), headers=_headers(desk))).status_code == 404


async def test_a_mapping_kept_before_these_checks_is_refused_when_the_list_is_made(
    desk: Desk, http: httpx.AsyncClient
) -> None:
    assert (await _put_template(http, desk, _user_workbook())).status_code == 200
    async with desk.ctx.db.session() as session:  # as an older opsdesk would have kept it
        row = await session.get(DeliveryTemplate, desk.workspace_id)
        assert row is not None
        row.mapping = {**MAPPING, "company_format": "{number:>20000000}"}
    day = date(2026, 3, 2)

    response = await _list(http, desk, day, day)

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "template_fill_failed" and "{number:>20000000}" in error["message"]


async def test_dates_in_a_mapping_take_a_short_whitelisted_format(desk: Desk, http: httpx.AsyncClient) -> None:
    mapping = {
        **MAPPING,
        "sheet_pattern": "{date:%d-%m} {weekday}",
        "place_format": "{outlet_name} ({delivery_date:%-d %b})",
    }
    assert (await _put_template(http, desk, _user_workbook(), mapping)).status_code == 200
    order = await _confirmed(desk, http, "s-date-format")
    day = date.fromisoformat(order["delivery_order"]["delivery_date"])

    response = await _list(http, desk, day, day)

    sheet = load_workbook(io.BytesIO(response.content))[f"{day:%d-%m} {_WEEKDAYS[day.weekday()]}"]
    assert sheet.cell(row=3, column=3).value.endswith(f"({day.day} {day:%b})")


@pytest.mark.parametrize(
    "query", ["date_from=2026-03-02&date_to=2026-03-01", "date_from=2026-01-01&date_to=2026-06-30"]
)
async def test_bad_ranges_are_refused(desk: Desk, http: httpx.AsyncClient, query: str) -> None:
    response = await http.get(desk.url(f"/delivery-lists/workbook.xlsx?{query}"), headers=_headers(desk))
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_range"


async def test_another_workspace_sees_neither_template_nor_deliveries(desk: Desk, http: httpx.AsyncClient) -> None:
    order = await _confirmed(desk, http, "s1")
    day = date.fromisoformat(order["delivery_order"]["delivery_date"])
    assert (await _put_template(http, desk, _user_workbook())).status_code == 200
    other = await add_tenant(desk.ctx, "globex")
    base = f"/api/v1/workspaces/{other.slug}/delivery-lists"

    template = await http.get(f"{base}/template", headers=other.headers(Role.admin))
    listed = await http.get(
        f"{base}/workbook.xlsx?date_from={day.isoformat()}&date_to={day.isoformat()}", headers=other.headers(Role.admin)
    )
    crossed = await http.get(f"{desk.url('/delivery-lists/template')}", headers=other.headers(Role.admin))

    assert template.status_code == 404
    assert listed.status_code == 200 and listed.headers["x-opsdesk-deliveries"] == "0"
    assert crossed.status_code in (403, 404)


def _png() -> bytes:
    buffer = io.BytesIO()
    PillowImage.new("RGB", (40, 20), "red").save(buffer, format="PNG")
    return buffer.getvalue()


def _customer_form() -> bytes:
    """A customer's own form: a logo, a merged title, headers on row 4, a "NO." column numbered 1-10, a "Checked"
    column of formulas and a "Prepared by" line they keep, print area and titles, widths, page setup, header/footer."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Template"
    sheet.add_image(Image(io.BytesIO(_png())), "A1")
    sheet["C1"] = "ACME deliveries"
    sheet.merge_cells("C1:F1")
    sheet.append([])
    sheet.append([])
    sheet.append(["NO.", "DO", "Customer", "Deliver to", "Ctns", "Driver", "Checked", "Remark"])
    for number in range(1, 11):
        row = 4 + number
        sheet.cell(row=row, column=1, value=number)
        sheet.cell(row=row, column=7, value=f'=IF(B{row}="","","ok")')
    sheet["A16"] = "Prepared by: __________"
    sheet.column_dimensions["D"].width = 40
    sheet.print_area = "A1:H16"
    sheet.print_title_rows = "4:4"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.oddHeader.left.text = "ACME"
    sheet.oddFooter.center.text = "Page &P of &N"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


FORM_MAPPING = {
    "sheet_pattern": "{date:%d-%m}",
    "template_sheet": "Template",
    "first_data_row": 5,
    "columns": {"number": "B", "company": "C", "place": "D", "cartons": "E", "remark": "H"},
}


async def test_a_day_sheet_copied_from_the_customer_form_keeps_all_of_it(desk: Desk, http: httpx.AsyncClient) -> None:
    order = await _confirmed(desk, http, "s1")
    delivery = await _delivery(desk, order["number"])
    day = delivery.delivery_date
    saved = await _put_template(http, desk, _customer_form(), FORM_MAPPING)

    filled = await _list(http, desk, day, day)

    assert saved.status_code == 200, saved.text
    workbook = load_workbook(io.BytesIO(filled.content))
    name = day.strftime("%d-%m")
    assert workbook.sheetnames == ["Template", name]
    sheet = workbook[name]
    assert [sheet.cell(row=5, column=c).value for c in (2, 3, 5)] == [
        delivery.number,
        delivery.company,
        delivery.total_cartons,
    ]
    assert [sheet.cell(row=row, column=1).value for row in range(5, 15)] == list(range(1, 11))  # NO. kept
    assert sheet["G5"].value == '=IF(B5="","","ok")' and sheet["G14"].value == '=IF(B14="","","ok")'
    assert sheet["A16"].value == "Prepared by: __________"
    assert sheet["C1"].value == "ACME deliveries" and "C1:F1" in {str(r) for r in sheet.merged_cells.ranges}
    assert len(sheet._images) == 1 and len(workbook["Template"]._images) == 1  # the logo, on both sheets
    assert sheet.print_area == f"'{name}'!$A$1:$H$16"
    assert sheet.print_title_rows == "$4:$4"
    assert sheet.column_dimensions["D"].width == 40
    assert (sheet.page_setup.orientation, sheet.page_setup.paperSize) == ("landscape", 9)
    assert sheet.oddHeader.left.text == "ACME" and sheet.oddFooter.center.text == "Page &P of &N"
    template = workbook["Template"]
    assert template["B5"].value is None and template["A5"].value == 1  # the form itself is left as it was


async def test_columns_the_mapping_leaves_out_are_never_written(desk: Desk, http: httpx.AsyncClient) -> None:
    order = await _confirmed(desk, http, "s1")
    delivery = await _delivery(desk, order["number"])
    day = delivery.delivery_date
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _WEEKDAYS[day.weekday()]
    sheet.append(["NO.", "Our ref", "Deliver to", "Ctns", "Remark"])
    sheet.append([1, "kept by hand", None, None, None])
    sheet.append([2, None, None, None, None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    mapping = {"sheet_pattern": "{weekday}", "first_data_row": 2, "columns": {"place": "C", "cartons": "D"}}

    saved = await _put_template(http, desk, buffer.getvalue(), mapping)
    filled = load_workbook(io.BytesIO((await _list(http, desk, day, day)).content))

    assert saved.status_code == 200, saved.text
    rows = [list(row) for row in filled[_WEEKDAYS[day.weekday()]].iter_rows(min_row=2, values_only=True)]
    assert [row[:2] for row in rows] == [[1, "kept by hand"], [2, None]]  # NO. and the customer's own column
    assert rows[0][2:] == [rows[0][2], delivery.total_cartons, None] and delivery.outlet_name in rows[0][2]


async def test_catalog_text_that_looks_like_a_formula_stays_text(desk: Desk, http: httpx.AsyncClient) -> None:
    hostile = '=HYPERLINK("http://evil.example","click")'
    patched = await http.patch(
        desk.url("/catalog/outlets/SR-TM"), json={"billing_entity": hostile}, headers=_headers(desk)
    )
    assert patched.status_code == 200, patched.text
    order = await _confirmed(desk, http, "s1")
    day = date.fromisoformat(order["delivery_order"]["delivery_date"])

    plain = load_workbook(io.BytesIO((await _list(http, desk, day, day)).content)).worksheets[0]
    saved = await _put_template(http, desk, _user_workbook())
    own = load_workbook(io.BytesIO((await _list(http, desk, day, day)).content))[_WEEKDAYS[day.weekday()]]

    assert saved.status_code == 200, saved.text
    for sheet in (plain, own):
        company = next(
            row[1] for row in sheet.iter_rows(min_row=2) if row[0].value == order["delivery_order"]["number"]
        )
        assert (company.value, company.data_type) == (hostile, "s")
