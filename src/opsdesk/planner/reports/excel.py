"""The recommendation as an .xlsx a maker's order system can take: one row per item, values only, no formulas."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

HEADERS = ("Item key", "Model line", "Description", "Order quantity", "Unit cost", "Extended cost", "Reason")
_WIDTHS = (18, 16, 36, 14, 14, 16, 60)
_MONEY = "#,##0.00"
# openpyxl reads a string starting with "=" as a formula, and Excel re-reads "+", "-", "@" (and control starts)
# as one when the cell is edited: such text gets the quote prefix and is always typed as a string.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


@dataclass(frozen=True)
class RecommendationLine:
    """One item's recommended order, as exported."""

    item: str
    line: str
    description: str
    quantity: int
    unit_cost: Decimal
    reason: str

    @property
    def extended_cost(self) -> Decimal:
        """Quantity times unit cost."""
        return self.unit_cost * self.quantity


def recommendation_workbook(lines: Sequence[RecommendationLine], *, title: str = "Order recommendation") -> bytes:
    """The workbook as bytes: a header row, one row per item with quantity > 0, and a total row of plain numbers."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Recommendation"
    workbook.properties.title = ILLEGAL_CHARACTERS_RE.sub("", title)
    workbook.properties.creator = "opsdesk"
    for column, (header, width) in enumerate(zip(HEADERS, _WIDTHS, strict=True), start=1):
        put_value(sheet.cell(row=1, column=column), header).font = Font(bold=True)
        sheet.column_dimensions[get_column_letter(column)].width = width
    rows = [line for line in lines if line.quantity > 0]
    for row, line in enumerate(rows, start=2):
        values: tuple[Any, ...] = (
            line.item,
            line.line,
            line.description,
            line.quantity,
            line.unit_cost,
            line.extended_cost,
            line.reason,
        )
        for column, value in enumerate(values, start=1):
            put_value(sheet.cell(row=row, column=column), value)
        sheet.cell(row=row, column=5).number_format = _MONEY
        sheet.cell(row=row, column=6).number_format = _MONEY
        sheet.cell(row=row, column=7).alignment = Alignment(wrap_text=True, vertical="top")
    total_row = len(rows) + 2
    put_value(sheet.cell(row=total_row, column=1), "Total").font = Font(bold=True)
    put_value(sheet.cell(row=total_row, column=4), sum(line.quantity for line in rows)).font = Font(bold=True)
    total = put_value(sheet.cell(row=total_row, column=6), sum((line.extended_cost for line in rows), Decimal(0)))
    total.font, total.number_format = Font(bold=True), _MONEY
    sheet.freeze_panes = "A2"
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def put_value(cell: Any, value: Any) -> Any:
    """Text stays text whatever it starts with (quote prefix where Excel would see a formula); numbers stay numbers."""
    if not isinstance(value, str):
        cell.value = value
        return cell
    text = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell.value = text
    cell.data_type = "s"
    if text.startswith(_FORMULA_STARTS):
        cell.quotePrefix = True
    return cell
