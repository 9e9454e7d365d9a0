"""Delivery orders as Excel workbooks (openpyxl): our default layout, or rows appended to a user's own template."""

from __future__ import annotations

from datetime import date
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from opsdesk.orders.documents.model import DeliveryOrderData

SHEET_TITLE = "Delivery Order"
DATE_FORMAT = "yyyy-mm-dd"

# Where the default layout puts things, so readers (and tests) need not search for them.
TITLE_CELL = "A1"
ISSUER_CELL = "A2"
URGENT_CELL = "F2"
NUMBER_CELL = "B4"
DATE_CELL = "E4"
OUTLET_CELL = "B5"
SLOT_CELL = "E5"
BILLING_CELL = "B6"
REFERENCE_CELL = "E6"
ADDRESS_CELL = "B7"
HEADER_ROW = 9
FIRST_LINE_ROW = 10
LINE_HEADERS = ("No.", "SKU", "Description", "Quantity", "Unit", "Cartons")
SIGNATURE_LABELS = ("Delivered by", "Received by (name, signature & stamp)", "Date / time received")

_THIN = Side(style="thin", color="808080")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_BOLD = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDDDDD")
_WIDTHS = (6, 14, 44, 11, 10, 10)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def render_delivery_order(delivery: DeliveryOrderData, *, issuer: str = "") -> bytes:
    """The delivery order in our default layout, as .xlsx bytes."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET_TITLE
    _write_header(sheet, delivery, issuer)
    row = _write_lines(sheet, delivery)
    row = _write_remark(sheet, delivery, row + 2)
    _write_signatures(sheet, row + 2)
    for index, width in enumerate(_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "portrait"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    workbook.properties.title = f"Delivery order {delivery.number}"
    return workbook_bytes(workbook)


def workbook_bytes(workbook: Any) -> bytes:
    """Saves an openpyxl workbook to bytes."""
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def put_value(cell: Any, value: Any) -> None:
    """Writes a value into a cell; text (whatever it starts with) stays text, never a formula.

    openpyxl takes a string starting with "=" as a formula, and Excel re-reads a cell typed in as "+…", "-…" or
    "@…" as one; so every string is typed as a string, and those get Excel's quote prefix (shown as typed, not
    evaluated when edited). Characters a workbook cannot hold are dropped.
    """
    if not isinstance(value, str):
        cell.value = value
        return
    text = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell.value = text
    cell.data_type = "s"
    if text.startswith(_FORMULA_STARTS):
        cell.quotePrefix = True


def line_rows(delivery: DeliveryOrderData) -> range:
    """The rows of the default layout that hold the delivery's lines."""
    return range(FIRST_LINE_ROW, FIRST_LINE_ROW + len(delivery.lines))


def _write_header(sheet: Any, delivery: DeliveryOrderData, issuer: str) -> None:
    sheet[TITLE_CELL] = "DELIVERY ORDER"
    sheet[TITLE_CELL].font = Font(bold=True, size=16)
    sheet.merge_cells("A1:E1")
    if issuer:
        put_value(sheet[ISSUER_CELL], issuer)
        sheet[ISSUER_CELL].font = Font(italic=True)
    if delivery.urgent:
        sheet[URGENT_CELL] = "URGENT"
        sheet[URGENT_CELL].font = Font(bold=True, color="FFFFFF")
        sheet[URGENT_CELL].fill = PatternFill("solid", fgColor="C00000")
        sheet[URGENT_CELL].alignment = Alignment(horizontal="center")
    fields = (
        ("A4", "DO number", NUMBER_CELL, delivery.number),
        ("D4", "Delivery date", DATE_CELL, delivery.delivery_date),
        ("A5", "Outlet", OUTLET_CELL, delivery.outlet_name),
        ("D5", "Slot", SLOT_CELL, delivery.slot),
        ("A6", "Bill to", BILLING_CELL, delivery.company),
        ("D6", "Order ref", REFERENCE_CELL, delivery.order_reference),
        ("A7", "Deliver to", ADDRESS_CELL, delivery.delivery_address),
    )
    for label_cell, label, value_cell, value in fields:
        sheet[label_cell] = label
        sheet[label_cell].font = _BOLD
        put_value(sheet[value_cell], value)
        if isinstance(value, date):
            sheet[value_cell].number_format = DATE_FORMAT
            sheet[value_cell].alignment = Alignment(horizontal="left")
    sheet.merge_cells("B7:F7")
    sheet[ADDRESS_CELL].alignment = Alignment(wrap_text=True, vertical="top")
    sheet.row_dimensions[7].height = 30


def _write_lines(sheet: Any, delivery: DeliveryOrderData) -> int:
    for column, title in enumerate(LINE_HEADERS, start=1):
        cell = sheet.cell(row=HEADER_ROW, column=column, value=title)
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
        cell.border = _BOX
    row = HEADER_ROW
    for index, line in enumerate(delivery.lines, start=1):
        row = HEADER_ROW + index
        values = (index, line.sku, line.description, line.quantity, line.unit, line.cartons)
        for column, value in enumerate(values, start=1):
            cell = sheet.cell(row=row, column=column)
            put_value(cell, value)
            cell.border = _BOX
            if column == 3:
                cell.alignment = Alignment(wrap_text=True)
    row += 1
    sheet.cell(row=row, column=5, value="Total cartons").font = _BOLD
    total = sheet.cell(row=row, column=6, value=delivery.total_cartons)
    total.font = _BOLD
    total.border = _BOX
    return row


def _write_remark(sheet: Any, delivery: DeliveryOrderData, row: int) -> int:
    sheet.cell(row=row, column=1, value="Remark").font = _BOLD
    cell = sheet.cell(row=row, column=2)
    put_value(cell, delivery.remark or "-")
    cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.merge_cells(start_row=row, start_column=2, end_row=row, end_column=6)
    return row


def _write_signatures(sheet: Any, row: int) -> None:
    for offset, label in enumerate(SIGNATURE_LABELS):
        current = row + offset * 3
        sheet.cell(row=current, column=1, value=label).font = _BOLD
        sheet.merge_cells(start_row=current, start_column=1, end_row=current, end_column=2)
        for column in range(3, 7):
            sheet.cell(row=current + 1, column=column).border = Border(bottom=_THIN)
        sheet.row_dimensions[current + 1].height = 24


def remark_text(delivery: DeliveryOrderData) -> str:
    """The remark as a delivery list shows it: urgent deliveries say so first."""
    if delivery.urgent:
        return f"URGENT - {delivery.remark}" if delivery.remark else "URGENT"
    return delivery.remark
