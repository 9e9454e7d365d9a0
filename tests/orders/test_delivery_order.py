"""Delivery orders as workbooks: our default layout, rows appended to a user's own template (numbering continued),
and user data always written as text."""

from __future__ import annotations

from datetime import date, datetime
from io import BytesIO
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Border, Font, PatternFill, Side

from opsdesk.orders.documents import (
    DeliveryTemplateMapping,
    DocumentError,
    DocumentKind,
    DocumentNumberError,
    TemplateColumns,
    append_deliveries,
    delivery_order_number,
    fill_delivery_template,
    parse_number,
    render_delivery_order,
    sheet_name,
)
from opsdesk.orders.documents.delivery_order import (
    ADDRESS_CELL,
    BILLING_CELL,
    DATE_CELL,
    FIRST_LINE_ROW,
    HEADER_ROW,
    NUMBER_CELL,
    OUTLET_CELL,
    SLOT_CELL,
    URGENT_CELL,
)
from opsdesk.orders.documents.delivery_order import workbook_bytes as to_bytes
from opsdesk.orders.documents.model import DeliveryLine
from tests.orders.conftest import make_delivery

MONDAY, WEDNESDAY = date(2025, 3, 3), date(2025, 3, 5)
YELLOW = "FFFFF2CC"


def _open(content: bytes) -> Any:
    return load_workbook(BytesIO(content))


def _values(sheet: Any) -> list[tuple[Any, ...]]:
    return [row for row in sheet.iter_rows(values_only=True) if any(value is not None for value in row)]


def test_delivery_order_numbers_are_formatted_and_parsed_back() -> None:
    number = delivery_order_number(MONDAY, 42)

    assert number == "DO-20250303-00042"
    parsed = parse_number(number, DocumentKind.DELIVERY_ORDER)
    assert (parsed.day, parsed.sequence, str(parsed)) == (MONDAY, 42, number)
    for bad in ("DO-20250230-00001", "DO-20250303-1", "DO-20250303-00000", "INV-20250303-00001"):
        with pytest.raises(DocumentNumberError):
            parse_number(bad, DocumentKind.DELIVERY_ORDER)
    with pytest.raises(DocumentNumberError):
        delivery_order_number(MONDAY, 100_000)


def test_default_layout_has_the_header_lines_remark_and_signatures() -> None:
    delivery = make_delivery(urgent=True)

    sheet = _open(render_delivery_order(delivery, issuer="Lion City Packaging Pte Ltd")).active

    assert sheet["A1"].value == "DELIVERY ORDER"
    assert sheet["A2"].value == "Lion City Packaging Pte Ltd"
    assert sheet[URGENT_CELL].value == "URGENT"
    assert sheet[NUMBER_CELL].value == "DO-20250303-00001"
    assert sheet[DATE_CELL].value == datetime(2025, 3, 3)
    assert sheet[OUTLET_CELL].value == "Slice Republic Marina Bay"
    assert sheet[BILLING_CELL].value == "Slice Republic Pte Ltd"
    assert sheet[ADDRESS_CELL].value == "12 Marina Boulevard #01-05, Singapore 018982"
    assert sheet[SLOT_CELL].value == "09:00-12:00"
    assert [c.value for c in sheet[HEADER_ROW]] == ["No.", "SKU", "Description", "Quantity", "Unit", "Cartons"]
    assert [c.value for c in sheet[FIRST_LINE_ROW]] == [1, "PB-10R", '10" Regular Pizza Box', 6, "bundle", 6]
    assert [c.value for c in sheet[FIRST_LINE_ROW + 1]] == [2, "LN-10", '10" Pizza Liner', 2, "pack", 1]
    assert sheet.cell(FIRST_LINE_ROW + 2, 5).value == "Total cartons"
    assert sheet.cell(FIRST_LINE_ROW + 2, 6).value == 7
    labels = [row[0] for row in _values(sheet)]
    assert "Remark" in labels
    remark_row = FIRST_LINE_ROW + 4
    assert (sheet.cell(remark_row, 1).value, sheet.cell(remark_row, 2).value) == ("Remark", "Use the loading bay")
    assert {"Delivered by", "Received by (name, signature & stamp)", "Date / time received"} <= set(labels)


def test_a_normal_delivery_has_no_urgent_flag() -> None:
    sheet = _open(render_delivery_order(make_delivery(remark=""))).active

    assert sheet[URGENT_CELL].value is None
    assert sheet.cell(FIRST_LINE_ROW + 4, 2).value == "-"


def _user_template() -> bytes:
    """A delivery list like a customer keeps it: a title, headers on row 3, a styled first data row, one sheet a day."""
    workbook = Workbook()
    thin = Side(style="thin")
    for index, day in enumerate(("Mon", "Tue")):
        sheet = workbook.active if index == 0 else workbook.create_sheet()
        sheet.title = day
        sheet["A1"] = f"Deliveries - {day}"
        sheet["A1"].font = Font(bold=True, size=14)
        for column, title in zip("ABCDE", ("DO No.", "Company", "Place of delivery", "Ctns", "Remark"), strict=True):
            sheet[f"{column}3"] = title
            sheet[f"{column}3"].font = Font(bold=True)
            sheet[f"{column}4"].fill = PatternFill("solid", fgColor=YELLOW)
            sheet[f"{column}4"].border = Border(bottom=thin)
        sheet.column_dimensions["C"].width = 48
    monday = workbook["Mon"]
    for column, value in zip("ABCDE", ("DO-20250303-00000", "Old Customer", "Old place", 3, "keep me"), strict=True):
        monday[f"{column}4"] = value
    content: bytes = to_bytes(workbook)
    return content


MAPPING = DeliveryTemplateMapping(
    columns=TemplateColumns(number="A", company="B", place="C", cartons="D", remark="E"),
    sheet_pattern="{weekday}",
    template_sheet="Tue",
    first_data_row=4,
)


def test_a_delivery_is_appended_to_its_day_sheet_below_existing_rows() -> None:
    filled = _open(fill_delivery_template(_user_template(), [make_delivery(urgent=True)], MAPPING))
    monday = filled["Mon"]

    assert [c.value for c in monday[4]] == ["DO-20250303-00000", "Old Customer", "Old place", 3, "keep me"]
    assert [c.value for c in monday[5]] == [
        "DO-20250303-00001",
        "Slice Republic Pte Ltd",
        "Slice Republic Marina Bay, 12 Marina Boulevard #01-05, Singapore 018982",
        7,
        "URGENT - Use the loading bay",
    ]
    assert monday["A5"].fill.fgColor.rgb == YELLOW  # the template's data-row style
    assert monday["E5"].border.bottom.style == "thin"
    assert monday["A3"].value == "DO No." and monday["A3"].font.b
    assert len(_values(filled["Tue"])) == 2  # title and headers only: other days are left alone


def test_a_missing_day_sheet_is_made_from_the_template_sheet() -> None:
    wednesday = make_delivery("DO-20250305-00007", WEDNESDAY, remark="")

    workbook = _open(fill_delivery_template(_user_template(), [wednesday], MAPPING))

    assert workbook.sheetnames == ["Mon", "Tue", "Wed"]
    sheet = workbook["Wed"]
    assert sheet["A1"].value == "Deliveries - Tue"  # copied from the template sheet, title and all
    assert [c.value for c in sheet[3]] == ["DO No.", "Company", "Place of delivery", "Ctns", "Remark"]
    assert [c.value for c in sheet[4]][:4] == ["DO-20250305-00007", "Slice Republic Pte Ltd", sheet["C4"].value, 7]
    assert sheet["E4"].value is None
    assert sheet["A4"].fill.fgColor.rgb == YELLOW
    assert sheet["A3"].font.b
    assert sheet.column_dimensions["C"].width == 48


def test_the_same_delivery_order_is_not_added_twice() -> None:
    template = _open(_user_template())
    first = append_deliveries(template, [make_delivery(), make_delivery("DO-20250303-00002")], MAPPING)
    again = append_deliveries(template, [make_delivery()], MAPPING)

    assert [(p.sheet, p.row, p.added) for p in first] == [("Mon", 5, True), ("Mon", 6, True)]
    assert [(p.sheet, p.row, p.added) for p in again] == [("Mon", 5, False)]
    assert template["Mon"].max_row == 6


def test_products_and_dates_can_have_columns_of_their_own() -> None:
    workbook = Workbook()
    workbook.active.title = "03-03"
    workbook.active.append(["Date", "DO", "Outlet", "10in", "Liners"])
    mapping = DeliveryTemplateMapping.from_json(
        '{"sheet_pattern": "{date:%d-%m}", "first_data_row": 2, "columns": {"delivery_date": "A", "number": "B",'
        ' "company": null, "place": "C", "cartons": null, "remark": null, "products": {"PB-10R": "D", "LN-10": 5}},'
        ' "place_format": "{outlet_name}"}'
    )

    append_deliveries(workbook, [make_delivery()], mapping)

    row = [c.value for c in workbook["03-03"][2]]
    assert row == [MONDAY, "DO-20250303-00001", "Slice Republic Marina Bay", 6, 2]
    assert workbook["03-03"]["A2"].number_format == "yyyy-mm-dd"
    assert sheet_name(mapping, date(2025, 12, 31)) == "31-12"


def test_bad_mappings_are_refused_with_a_reason() -> None:
    with pytest.raises(DocumentError, match="both map to column A"):
        TemplateColumns(number="A", company="A").indexes()
    with pytest.raises(DocumentError, match="unknown template columns"):
        DeliveryTemplateMapping.from_dict({"columns": {"colour": "A"}})
    with pytest.raises(DocumentError, match="bad format"):
        DeliveryTemplateMapping(place_format="{nowhere}")
    with pytest.raises(DocumentError, match=r"not an \.xlsx workbook"):
        fill_delivery_template(b"not a workbook", [make_delivery()], MAPPING)
    with pytest.raises(DocumentError, match="no template sheet"):
        fill_delivery_template(_user_template(), [make_delivery(delivery_date=WEDNESDAY)], _with(template_sheet="X"))
    with pytest.raises(DocumentError, match="is full"):
        fill_delivery_template(_user_template(), [make_delivery()], _with(last_data_row=4))


def _with(**changes: Any) -> DeliveryTemplateMapping:
    values = {name: getattr(MAPPING, name) for name in MAPPING.__dataclass_fields__}
    return DeliveryTemplateMapping(**{**values, **changes})


HOSTILE = ("=1+1", "+65 9123 4567", "-2", "@SUM(A1:A2)", "\t=cmd", "\r=cmd")


def test_text_that_looks_like_a_formula_is_written_as_text_in_a_delivery_order() -> None:
    delivery = make_delivery(
        outlet_name=HOSTILE[0],
        billing_entity=HOSTILE[1],
        delivery_address=HOSTILE[2],
        remark=HOSTILE[3],
        order_reference=HOSTILE[4],
        lines=(DeliveryLine("PB-10R", HOSTILE[5], 1, "bundle", 1),),
    )

    sheet = _open(render_delivery_order(delivery, issuer="=EVIL()")).active

    cells = (OUTLET_CELL, BILLING_CELL, ADDRESS_CELL, f"B{FIRST_LINE_ROW + 3}", "E6", f"C{FIRST_LINE_ROW}", "A2")
    assert [sheet[cell].value for cell in cells] == [*HOSTILE, "=EVIL()"]
    assert {sheet[cell].data_type for cell in cells} == {"s"}
    assert all(sheet[cell].quotePrefix for cell in cells)  # Excel shows them as typed, also once edited


def test_text_that_looks_like_a_formula_is_written_as_text_in_a_delivery_list() -> None:
    workbook = Workbook()
    workbook.active.title = "Mon"
    mapping = _with(template_sheet=None, first_data_row=2)
    delivery = make_delivery(outlet_name="=1+1", billing_entity="@cmd", remark="-1")

    sheet = _open(to_bytes_after(workbook, [delivery], mapping))["Mon"]

    assert [(c.value, c.data_type) for c in sheet[2]] == [
        ("DO-20250303-00001", "s"),
        ("@cmd", "s"),
        ("=1+1, 12 Marina Boulevard #01-05, Singapore 018982", "s"),
        (7, "n"),
        ("-1", "s"),
    ]


def to_bytes_after(workbook: Any, deliveries: list[Any], mapping: DeliveryTemplateMapping) -> bytes:
    append_deliveries(workbook, deliveries, mapping)
    return to_bytes(workbook)


def _numbered_form(*numbers: object) -> Any:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Mon"
    sheet.append(["NO.", "DO", "Ctns"])
    for row, number in enumerate(numbers, start=2):
        sheet.cell(row=row, column=1, value=number)
    return workbook


NUMBERED = DeliveryTemplateMapping(
    columns=TemplateColumns(row_number="A", number="B", cartons="C"), sheet_pattern="{weekday}", first_data_row=2
)


@pytest.mark.parametrize(
    ("numbers", "expected"),
    [
        ((1, "=A2+1"), [1, "=A2+1", "=A3+1", "=A4+1"]),  # formulas continue, moved down a row
        ((1, 2), [1, 2, 3, 4]),  # numbers the form holds are kept, then counted on
        ((), [1, 2, 3, 4]),  # an empty numbering column is numbered
    ],
)
def test_a_mapped_numbering_column_is_kept_and_continued(numbers: tuple[object, ...], expected: list[object]) -> None:
    workbook = _numbered_form(*numbers)
    deliveries = [make_delivery(f"DO-20250303-0000{n}") for n in range(1, 5)]

    append_deliveries(workbook, deliveries, NUMBERED)

    sheet = _open(to_bytes(workbook))["Mon"]
    assert [sheet.cell(row=row, column=1).value for row in range(2, 6)] == expected
    assert [sheet.cell(row=row, column=2).value for row in range(2, 6)] == [d.number for d in deliveries]


def test_a_mapping_names_only_the_columns_it_writes() -> None:
    assert TemplateColumns(place="C").indexes() == {"place": 3}
    with pytest.raises(DocumentError, match="names no columns"):
        TemplateColumns(row_number="A").indexes()
