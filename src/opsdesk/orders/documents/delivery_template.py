"""Fills a user's own delivery-list workbook: a sheet per delivery day, a row appended per delivery order.

The mapping says how the user's sheets are named (``"{weekday}"`` → "Mon", ``"{date:%d-%m}"`` → "03-03"), where
the data starts and which column holds what. Only mapped columns are ever written: a column the mapping leaves out
(the customer's own "NO.", notes or formulas) is the customer's. Existing rows are never overwritten, a delivery
order already on its sheet (same number) is not added twice, and a missing day sheet is made by copying the template
sheet with everything that makes it the customer's form: images, print area and titles, widths, merged cells, page
setup, header and footer, and the unmapped columns (a numbering column keeps its 1, 2, 3 … or its formulas).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from copy import copy
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from io import BytesIO
from string import Formatter
from typing import Any

from openpyxl import load_workbook
from openpyxl.drawing.image import Image
from openpyxl.formula.translate import Translator, TranslatorError
from openpyxl.utils import column_index_from_string, get_column_letter

from opsdesk.orders.documents.delivery_order import DATE_FORMAT, put_value, remark_text, workbook_bytes
from opsdesk.orders.documents.model import DeliveryOrderData
from opsdesk.orders.documents.numbering import DocumentError

MAX_FIRST_DATA_ROW = 10_000
_MAX_SHEET_ROW = 1_048_576  # Excel's last row
_MAX_COLUMN = 16_384  # Excel's last column, XFD
_MAX_PATTERN = 200
_MAX_PRODUCTS = 500
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WEEKDAYS_LONG = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


class MappingError(DocumentError):
    """A delivery-template mapping that names unknown fields, uses a format it may not, or is out of range."""

    status_code = 422

    def __init__(self, message: str) -> None:
        super().__init__(message, code="invalid_mapping")


# Mapping patterns are a small template language, not Python's str.format: "{field}" from a fixed list, and a
# date field may take a strftime format of a few whitelisted directives ("{date:%d-%m}"). No attribute or index
# access ("{date.x}"), no conversions, no padding or widths ("{number:>20000000}" built 20 MB per row).
_SHEET_FIELDS = frozenset({"date", "weekday", "weekday_long"})
_ROW_FIELDS = frozenset(
    {"number", "outlet_name", "billing_entity", "company", "delivery_address", "slot", "remark", "order_reference"}
    | {"delivery_date"}
)
_DATE_FIELDS = frozenset({"date", "delivery_date"})
_DATE_SPEC = re.compile(r"(?:%-?[dmyYbBaAje]|[^%{}])*")
_MAX_DATE_SPEC = 32


@dataclass(frozen=True, slots=True)
class _Piece:
    literal: str
    field: str | None = None
    spec: str = ""


@lru_cache(maxsize=256)
def _compile(pattern: str, what: str, fields: frozenset[str]) -> tuple[_Piece, ...]:
    """The pattern's literal text and fields, or MappingError naming what is not allowed."""
    if len(pattern) > _MAX_PATTERN:
        raise MappingError(f"bad format {what}: at most {_MAX_PATTERN} characters")
    try:
        parsed = list(Formatter().parse(pattern))
    except ValueError as exc:  # a lone "{" or "}"
        raise MappingError(f"bad format {what} {pattern!r}: {exc} (write {{{{ and }}}} for literal braces)") from exc
    pieces: list[_Piece] = []
    for literal, name, spec, conversion in parsed:
        if name is None:
            pieces.append(_Piece(literal))
            continue
        if name not in fields:
            known = ", ".join("{" + known + "}" for known in sorted(fields))
            raise MappingError(f"bad format {what} {pattern!r}: {{{name}}} is not a field (fields: {known})")
        if conversion:
            raise MappingError(f"bad format {what} {pattern!r}: {{{name}!{conversion}}} conversions are not allowed")
        if spec and (name not in _DATE_FIELDS or len(spec) > _MAX_DATE_SPEC or not _DATE_SPEC.fullmatch(spec)):
            raise MappingError(
                f"bad format {what} {pattern!r}: {{{name}:{spec[:40]}}} is not allowed; only a date takes a format, "
                "of %d %m %y %Y %b %B %a %A %j %e (e.g. {date:%d-%m})"
            )
        pieces.append(_Piece(literal, name, spec or ""))
    return tuple(pieces)


def _render(pieces: tuple[_Piece, ...], values: Mapping[str, Any]) -> str:
    out: list[str] = []
    for piece in pieces:
        out.append(piece.literal)
        if piece.field is None:
            continue
        value = values[piece.field]
        if isinstance(value, date):
            out.append(value.strftime(piece.spec) if piece.spec else value.isoformat())
        elif value is not None:
            out.append(str(value))
    return "".join(out)


def _column(value: object, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= _MAX_COLUMN:
            raise MappingError(f"column {name} must be from 1 to {_MAX_COLUMN}, not {value}")
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\s*[A-Za-z]{1,3}\s*", value):
        raise MappingError(f"column {name}: {str(value)[:40]!r} is not a column letter like 'C' or a number")
    try:
        index = int(column_index_from_string(value.strip().upper()))
    except ValueError as exc:
        raise MappingError(f"column {name}: {value!r} is not a column letter like 'C'") from exc
    if index > _MAX_COLUMN:
        raise MappingError(f"column {name}: {value!r} is past Excel's last column (XFD)")
    return index


@dataclass(frozen=True, slots=True)
class TemplateColumns:
    """Which column (letter or 1-based number) holds each value; a column not given is never written.

    ``row_number`` is the sheet's own numbering column ("NO."): a number or formula already in it is kept, and an
    empty one continues the row above (its number + 1, or its formula moved down a row).
    """

    number: str | int | None = None
    company: str | int | None = None
    place: str | int | None = None
    cartons: str | int | None = None
    remark: str | int | None = None
    delivery_date: str | int | None = None
    slot: str | int | None = None
    row_number: str | int | None = None
    products: Mapping[str, str | int] = field(default_factory=dict)  # SKU → column for that SKU's quantity

    def indexes(self) -> dict[str, int]:
        """Field name (or ``sku:<SKU>``) → column index, checked for clashes."""
        named = {
            "row_number": self.row_number,
            "number": self.number,
            "company": self.company,
            "place": self.place,
            "cartons": self.cartons,
            "remark": self.remark,
            "delivery_date": self.delivery_date,
            "slot": self.slot,
        }
        found: dict[str, int] = {}
        for name, value in [*named.items(), *((f"sku:{sku}", col) for sku, col in self.products.items())]:
            index = _column(value, name)
            if index is None:
                continue
            clash = next((other for other, used in found.items() if used == index), None)
            if clash is not None:
                raise MappingError(f"{name} and {clash} both map to column {get_column_letter(index)}")
            found[name] = index
        if not set(found) - {"row_number"}:
            raise MappingError("the template mapping names no columns")
        return found


@dataclass(frozen=True, slots=True)
class DeliveryTemplateMapping:
    """How delivery orders land in a user's workbook.

    ``sheet_pattern`` fields: ``{weekday}`` (Mon), ``{weekday_long}`` (Monday), ``{date:<strftime>}``.
    ``company_format``/``place_format`` fields: number, outlet_name, billing_entity, company (billing entity or
    outlet name), delivery_address, slot, remark, order_reference, delivery_date.
    """

    columns: TemplateColumns = field(default_factory=TemplateColumns)
    sheet_pattern: str = "{weekday}"
    template_sheet: str | None = None  # copied for a missing day sheet; None: the workbook's first sheet
    first_data_row: int = 2
    last_data_row: int | None = None  # a sheet with fixed room (e.g. a totals row below) is full after this row
    company_format: str = "{company}"
    place_format: str = "{outlet_name}, {delivery_address}"

    def __post_init__(self) -> None:
        first, last = self.first_data_row, self.last_data_row
        if isinstance(first, bool) or not isinstance(first, int) or not 1 <= first <= MAX_FIRST_DATA_ROW:
            raise MappingError(
                f"first_data_row must be a whole number from 1 to {MAX_FIRST_DATA_ROW}, not {first!r:.40}"
            )
        if last is not None and (isinstance(last, bool) or not isinstance(last, int) or last > _MAX_SHEET_ROW):
            raise MappingError(f"last_data_row must be a whole number up to {_MAX_SHEET_ROW}, not {last!r:.40}")
        if last is not None and last < first:
            raise MappingError("last_data_row is above first_data_row")
        if self.template_sheet is not None and (
            not isinstance(self.template_sheet, str) or len(self.template_sheet) > 31
        ):
            raise MappingError("template_sheet must be a sheet name (at most 31 characters)")
        for what in ("sheet_pattern", "company_format", "place_format"):
            if not isinstance(getattr(self, what), str):
                raise MappingError(f"{what} must be text")
        _compile(self.sheet_pattern, "sheet_pattern", _SHEET_FIELDS)
        _compile(self.company_format, "company_format", _ROW_FIELDS)
        _compile(self.place_format, "place_format", _ROW_FIELDS)
        self.columns.indexes()
        sheet_name(self, date(2025, 3, 3))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeliveryTemplateMapping:
        """Reads the JSON form: ``{"sheet_pattern": "{weekday}", "first_data_row": 3, "columns": {"number": "A"}}``."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise MappingError(f"unknown template mapping keys: {', '.join(sorted(map(str, unknown)))[:300]}")
        if not isinstance(data.get("columns") or {}, dict):
            raise MappingError('columns must be an object such as {"number": "A"}')
        columns = dict(data.get("columns") or {})
        products = columns.pop("products", None) or {}
        if not isinstance(products, dict) or len(products) > _MAX_PRODUCTS:
            raise MappingError(f'products must be an object of at most {_MAX_PRODUCTS} SKUs such as {{"PB-10": "G"}}')
        if any(not isinstance(sku, str) or not 0 < len(sku) <= 64 for sku in products):
            raise MappingError("each product key must be a SKU (1 to 64 characters)")
        bad = set(columns) - set(TemplateColumns.__dataclass_fields__)
        if bad:
            raise MappingError(f"unknown template columns: {', '.join(sorted(map(str, bad)))[:300]}")
        options = {key: data[key] for key in data if key != "columns"}
        return cls(columns=TemplateColumns(**columns, products=dict(products)), **options)

    @classmethod
    def from_json(cls, text: str) -> DeliveryTemplateMapping:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DocumentError(f"the template mapping is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise DocumentError("the template mapping must be a JSON object")
        return cls.from_dict(data)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one delivery order went; ``added`` is False when its number was already on the sheet."""

    number: str
    sheet: str
    row: int
    added: bool
    sheet_created: bool = False


def sheet_name(mapping: DeliveryTemplateMapping, day: date) -> str:
    """The day sheet's name; characters Excel forbids become "-" and it is cut to 31 characters."""
    pieces = _compile(mapping.sheet_pattern, "sheet_pattern", _SHEET_FIELDS)
    name = _render(
        pieces, {"date": day, "weekday": _WEEKDAYS[day.weekday()], "weekday_long": _WEEKDAYS_LONG[day.weekday()]}
    )
    name = _BAD_SHEET_CHARS.sub("-", name).strip().strip("'")[:31]
    if not name:
        raise MappingError(f"sheet pattern {mapping.sheet_pattern!r} gives an empty sheet name")
    return name


def fill_delivery_template(
    template: bytes, deliveries: Iterable[DeliveryOrderData], mapping: DeliveryTemplateMapping
) -> bytes:
    """Appends each delivery order to its day sheet of the workbook ``template``; returns the new .xlsx bytes."""
    try:
        workbook = load_workbook(BytesIO(template))
    except Exception as exc:  # openpyxl raises zipfile, KeyError and its own errors for non-workbooks
        raise DocumentError(f"the template is not an .xlsx workbook: {exc}") from exc
    append_deliveries(workbook, deliveries, mapping)
    return workbook_bytes(workbook)


def append_deliveries(
    workbook: Any, deliveries: Iterable[DeliveryOrderData], mapping: DeliveryTemplateMapping
) -> list[Placement]:
    """Appends to an open openpyxl workbook and says where each delivery order went."""
    columns = mapping.columns.indexes()
    numbering = columns.pop("row_number", None)
    placements: list[Placement] = []
    for delivery in deliveries:
        name = sheet_name(mapping, delivery.delivery_date)
        sheet = _find_sheet(workbook, name)
        created = sheet is None
        if sheet is None:
            sheet = _new_day_sheet(workbook, name, mapping, columns.values())
        existing = _row_with_number(sheet, columns.get("number"), delivery.number, mapping.first_data_row)
        if existing is not None:
            placements.append(Placement(delivery.number, sheet.title, existing, added=False))
            continue
        row = _next_free_row(sheet, columns.values(), mapping)
        _write_row(sheet, row, _row_values(delivery, columns, mapping), mapping.first_data_row)
        if numbering is not None:
            _continue_numbering(sheet, numbering, row, mapping.first_data_row)
        placements.append(Placement(delivery.number, sheet.title, row, added=True, sheet_created=created))
    return placements


def _find_sheet(workbook: Any, name: str) -> Any | None:
    # Excel treats sheet names case-insensitively ("mon" and "Mon" cannot coexist).
    return next((ws for ws in workbook.worksheets if ws.title.casefold() == name.casefold()), None)


def _new_day_sheet(workbook: Any, name: str, mapping: DeliveryTemplateMapping, columns: Iterable[int]) -> Any:
    """A copy of the template sheet with the mapped columns of its data rows emptied, and nothing else lost."""
    if mapping.template_sheet is not None:
        source = _find_sheet(workbook, mapping.template_sheet)
        if source is None:
            raise DocumentError(f"the workbook has no template sheet {mapping.template_sheet!r}")
    else:
        source = workbook.worksheets[0]
    sheet = workbook.copy_worksheet(source)
    sheet.title = name
    _carry_over(source, sheet)
    # The template may carry rows already filled in: their deliveries go, their styles and unmapped cells stay.
    wanted = set(columns)
    for row in sheet.iter_rows(min_row=mapping.first_data_row):
        for cell in row:
            if cell.column in wanted and type(cell).__name__ != "MergedCell":
                cell.value = None
    return sheet


def _carry_over(source: Any, sheet: Any) -> None:
    """What openpyxl's copy_worksheet leaves behind (it takes cells, styles, sizes, merges and page setup)."""
    sheet.views = copy(source.views)  # freeze panes, zoom, gridlines
    for view in sheet.views.sheetView:
        view.tabSelected = False  # two selected tabs would group the sheets in Excel
    sheet.print_title_rows = source.print_title_rows
    sheet.print_title_cols = source.print_title_cols
    sheet.print_area = source.print_area or None  # "'Mon'!$A$1:$F$40": the ranges are kept, the sheet is ours
    sheet.HeaderFooter = copy(source.HeaderFooter)
    sheet.auto_filter = copy(source.auto_filter)
    sheet.protection = copy(source.protection)
    for validation in source.data_validations.dataValidation:
        sheet.add_data_validation(copy(validation))
    for formatting in source.conditional_formatting:
        for rule in formatting.rules:
            sheet.conditional_formatting.add(formatting.sqref, copy(rule))
    for image in source._images:  # logos: openpyxl keeps no images on a copied sheet
        sheet.add_image(_image_copy(image))


def _image_copy(image: Any) -> Any:
    ref = image.ref
    if hasattr(ref, "read"):
        # Not image._data(): it closes the stream, and the template sheet still needs it to be saved.
        ref.seek(0)
        data = ref.read()
        ref.seek(0)
    else:
        with open(ref, "rb") as file:
            data = file.read()
    twin = Image(BytesIO(data))
    twin.width, twin.height = image.width, image.height
    twin.anchor = copy(image.anchor)
    return twin


def _row_with_number(sheet: Any, column: int | None, number: str, first_row: int) -> int | None:
    if column is None:
        return None
    for row in range(first_row, sheet.max_row + 1):
        value = sheet.cell(row=row, column=column).value
        if isinstance(value, str) and value.strip() == number:
            return row
    return None


def _next_free_row(sheet: Any, columns: Iterable[int], mapping: DeliveryTemplateMapping) -> int:
    """The row after the last one holding anything in a mapped column (gaps above are never filled)."""
    last_used = mapping.first_data_row - 1
    wanted = set(columns)
    for row in sheet.iter_rows(min_row=mapping.first_data_row, max_row=max(sheet.max_row, mapping.first_data_row)):
        if any(cell.column in wanted and cell.value not in (None, "") for cell in row):
            last_used = row[0].row
    row = last_used + 1
    if mapping.last_data_row is not None and row > mapping.last_data_row:
        raise DocumentError(f"sheet {sheet.title!r} is full (its rows end at {mapping.last_data_row})")
    return row


def _continue_numbering(sheet: Any, column: int, row: int, first_row: int) -> None:
    """Fills an empty numbering cell: the row above's formula moved down a row, its number + 1, or the row's place."""
    cell = sheet.cell(row=row, column=column)
    if cell.value not in (None, ""):
        return  # the template numbered its rows already
    above = sheet.cell(row=row - 1, column=column).value if row > first_row else None
    value: Any = row - first_row + 1
    if isinstance(above, str) and above.startswith("="):
        try:
            value = Translator(above, origin=f"{get_column_letter(column)}{row - 1}").translate_formula(cell.coordinate)
        except TranslatorError:
            pass
    elif isinstance(above, int | float) and not isinstance(above, bool):
        value = above + 1
    cell.value = value  # the template's own formula or a number, never user data


def _row_values(
    delivery: DeliveryOrderData, columns: Mapping[str, int], mapping: DeliveryTemplateMapping
) -> dict[int, Any]:
    fields = {
        "number": delivery.number,
        "outlet_name": delivery.outlet_name,
        "billing_entity": delivery.billing_entity,
        "company": delivery.company,
        "delivery_address": delivery.delivery_address,
        "slot": delivery.slot,
        "remark": delivery.remark,
        "order_reference": delivery.order_reference,
        "delivery_date": delivery.delivery_date,
    }
    quantities: dict[str, int] = {}
    for line in delivery.lines:
        quantities[line.sku] = quantities.get(line.sku, 0) + line.quantity
    values: dict[str, Any] = {
        "number": delivery.number,
        "company": _render(_compile(mapping.company_format, "company_format", _ROW_FIELDS), fields).strip(" ,"),
        "place": _render(_compile(mapping.place_format, "place_format", _ROW_FIELDS), fields).strip(" ,"),
        "cartons": delivery.total_cartons,
        "remark": remark_text(delivery) or None,
        "delivery_date": delivery.delivery_date,
        "slot": delivery.slot or None,
    }
    for name in columns:
        if name.startswith("sku:"):
            values[name] = quantities.get(name.removeprefix("sku:"))
    return {columns[name]: values[name] for name in columns if values.get(name) is not None}


def _write_row(sheet: Any, row: int, values: Mapping[int, Any], style_row: int) -> None:
    """Writes values; cells without a style of their own borrow the template's first data row style."""
    if row != style_row:
        source_height = sheet.row_dimensions[style_row].height
        if sheet.row_dimensions[row].height is None and source_height is not None:
            sheet.row_dimensions[row].height = source_height
    for column in sorted(set(values) | _styled_columns(sheet, style_row)):
        cell = sheet.cell(row=row, column=column)
        source = sheet.cell(row=style_row, column=column)
        if row != style_row and not cell.has_style and source.has_style:
            cell.font = copy(source.font)
            cell.border = copy(source.border)
            cell.fill = copy(source.fill)
            cell.number_format = source.number_format
            cell.alignment = copy(source.alignment)
            cell.protection = copy(source.protection)
        if column in values:
            put_value(cell, values[column])
            if isinstance(values[column], date) and cell.number_format == "General":
                cell.number_format = DATE_FORMAT


def _styled_columns(sheet: Any, row: int) -> set[int]:
    return {cell.column for cell in sheet[row] if cell.has_style}
