"""CSV or .xlsx bytes → rows of cells. Workbooks are read for their saved values (openpyxl ``data_only``): a formula
is never run, and a formula cell with no saved result is reported instead of being read as empty."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from openpyxl import load_workbook

from opsdesk.planner.imports.dates import Cell

_SNIFF_BYTES = 64 * 1024


class UnreadableFile(Exception):
    """The bytes are neither a CSV text nor an .xlsx workbook."""


@dataclass(frozen=True, slots=True)
class FormulaCell:
    row: int
    position: int  # column index in the row
    formula: str
    has_value: bool


@dataclass(slots=True)
class RawSheet:
    rows: list[tuple[int, list[Cell]]]  # (spreadsheet row, cells), blank rows left out
    formulas: list[FormulaCell] = field(default_factory=list)
    format: str = "csv"


def is_workbook(data: bytes, file_name: str) -> bool:
    return data[:2] == b"PK" or file_name.lower().endswith((".xlsx", ".xlsm"))


def read_sheet(data: bytes, file_name: str) -> RawSheet:
    """The first worksheet (or the CSV) as rows; raises UnreadableFile with a reason a person can act on."""
    if is_workbook(data, file_name):
        return _read_workbook(data)
    if file_name.lower().endswith(".xls") or data[:4] == b"\xd0\xcf\x11\xe0":
        raise UnreadableFile("an old Excel .xls file; save it as .xlsx or CSV")
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise UnreadableFile("binary data, neither CSV nor .xlsx")
    return RawSheet(list(_nonblank(_csv_rows(data))))


def _nonblank(rows: Iterator[list[Cell]]) -> Iterator[tuple[int, list[Cell]]]:
    for number, row in enumerate(rows, start=1):
        if any(cell is not None and cell != "" for cell in row):
            yield number, row


def _csv_rows(data: bytes) -> Iterator[list[Cell]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    try:
        dialect: Any = csv.Sniffer().sniff(text[:_SNIFF_BYTES], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    try:
        for row in csv.reader(io.StringIO(text, newline=""), dialect):
            yield [cell.replace("\x00", "").strip() for cell in row]
    except csv.Error as exc:
        raise UnreadableFile(f"not readable as CSV: {exc}") from exc


def _open(data: bytes, *, data_only: bool) -> Any:
    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=data_only)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise UnreadableFile(f"not a readable .xlsx workbook ({type(exc).__name__})") from exc


def _read_workbook(data: bytes) -> RawSheet:
    values_book, formulas_book = _open(data, data_only=True), _open(data, data_only=False)
    try:
        if not values_book.worksheets:
            raise UnreadableFile("the workbook has no worksheet")
        sheet = RawSheet([], format="xlsx")
        values = values_book.worksheets[0].iter_rows(values_only=True)
        cells = formulas_book.worksheets[0].iter_rows()
        for number, (row_values, row_cells) in enumerate(zip(values, cells, strict=False), start=1):
            row: list[Cell] = [_value(value) for value in row_values]
            for position, cell in enumerate(row_cells):
                if getattr(cell, "data_type", None) != "f":
                    continue
                saved = row[position] if position < len(row) else None
                formula = str(getattr(cell.value, "text", cell.value))
                sheet.formulas.append(FormulaCell(number, position, formula, saved is not None and saved != ""))
            if any(cell is not None and cell != "" for cell in row):
                sheet.rows.append((number, row))
        return sheet
    finally:
        values_book.close()
        formulas_book.close()


def _value(value: Any) -> Cell:
    if isinstance(value, str):
        return value.replace("\x00", "").strip()
    if value is None or isinstance(value, int | float | bool):
        return value
    if hasattr(value, "year"):  # date, datetime
        return value  # type: ignore[no-any-return]
    return str(value)  # times, errors ("#N/A" arrive as text)
