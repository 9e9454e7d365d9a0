"""The recommendation export reopens as plain values, one row per item, with user text never a formula."""

from __future__ import annotations

from decimal import Decimal
from io import BytesIO

from openpyxl import load_workbook

from opsdesk.planner.reports.excel import HEADERS, RecommendationLine, recommendation_workbook

LINES = [
    RecommendationLine("BR-BL-4D", "Bronco", "Bronco Big Bend 4-door", 2, Decimal("41250.00"), "forecast 3.1 a week"),
    RecommendationLine("EX-XLT", "Explorer", '=HYPERLINK("http://x","click")', 3, Decimal("38900.50"), "+1 lot"),
    RecommendationLine("@SUM(A1)", "-F150", "F-150 XL", 1, Decimal("35000"), "-bound by allocation"),
    RecommendationLine("MACH-E", "Mustang", "Mach-E Premium", 0, Decimal("47000"), "enough stock"),
]


def test_one_row_per_item_ordered_with_extended_cost_and_total_as_numbers() -> None:
    sheet = load_workbook(BytesIO(recommendation_workbook(LINES))).active
    rows = list(sheet.iter_rows(values_only=True))

    assert rows[0] == HEADERS
    assert rows[1] == ("BR-BL-4D", "Bronco", "Bronco Big Bend 4-door", 2, 41250, 82500, "forecast 3.1 a week")
    assert [row[0] for row in rows[1:]] == ["BR-BL-4D", "EX-XLT", "@SUM(A1)", "Total"]  # nothing to order: no row
    assert rows[2][5] == 116701.5
    assert rows[-1][3] == 6 and rows[-1][5] == 82500 + 116701.5 + 35000


def test_no_cell_is_a_formula_and_formula_like_text_is_shown_literally() -> None:
    sheet = load_workbook(BytesIO(recommendation_workbook(LINES))).active
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]

    assert all(cell.data_type != "f" for cell in cells)
    description = sheet["C3"]
    assert description.value == '=HYPERLINK("http://x","click")'
    assert description.data_type == "s" and description.quotePrefix
    for ref, text in (("G3", "+1 lot"), ("A4", "@SUM(A1)"), ("B4", "-F150"), ("G4", "-bound by allocation")):
        assert sheet[ref].value == text and sheet[ref].data_type == "s" and sheet[ref].quotePrefix
    assert not sheet["A2"].quotePrefix


def test_an_empty_recommendation_still_has_headers_and_a_zero_total() -> None:
    sheet = load_workbook(BytesIO(recommendation_workbook([]))).active

    assert list(sheet.iter_rows(values_only=True)) == [HEADERS, ("Total", None, None, 0, None, 0, None)]
