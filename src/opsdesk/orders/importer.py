"""Catalog import from Excel (.xlsx) or CSV: every row checked, every problem reported as (row, column, problem).

Headers are matched loosely ("Unit Price", "unit_price", "Price" …). Lists (aliases, phones, usual days) are
separated by ``;`` or ``|`` (phones and days also by ``,``). With ``on_error="reject"`` nothing is written when any
row has a problem; with ``"skip"`` the good rows are written and the bad ones reported.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from openpyxl import load_workbook
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.errors import InvalidInput
from opsdesk.orders.catalog_service import bump_revision
from opsdesk.orders.models import Outlet, Product
from opsdesk.orders.schemas import ImportProblem, ImportReport, OutletIn, ProductIn

ImportKind = Literal["products", "outlets"]
OnError = Literal["reject", "skip"]
MAX_ROWS = 20_000

_HEADERS: dict[ImportKind, dict[str, tuple[str, ...]]] = {
    "products": {
        "sku": ("sku", "code", "item code", "product code", "item no", "item number"),
        "name": ("name", "product", "product name", "item", "item name", "description"),
        "aliases": ("aliases", "alias", "other names", "synonyms"),
        "unit": ("unit", "uom", "unit of measure"),
        "pack_size": ("pack size", "pack", "pieces per unit", "pcs per unit", "per unit"),
        "unit_price": ("unit price", "price", "selling price", "unit cost"),
        "category": ("category", "group", "type"),
        "stock": ("stock", "qty on hand", "on hand", "inventory", "quantity in stock"),
        "min_order": ("min order", "minimum order", "moq", "min qty"),
        "active": ("active", "enabled", "status"),
    },
    "outlets": {
        "code": ("code", "outlet code", "customer code", "account", "account number"),
        "name": ("name", "outlet", "outlet name", "customer", "store", "shop"),
        "aliases": ("aliases", "alias", "other names"),
        "address": ("address", "delivery address", "place of delivery"),
        "contact_name": ("contact", "contact name", "contact person"),
        "email": ("email", "e-mail", "email address"),
        "phones": ("phones", "phone", "phone numbers", "mobile", "whatsapp", "tel"),
        "billing_entity": ("billing entity", "company", "billing", "bill to", "legal name"),
        "usual_days": ("usual days", "order days", "delivery days", "days"),
        "active": ("active", "enabled", "status"),
    },
}
_LISTS = {"aliases": r"[;|\n]", "phones": r"[;|,/\n]", "usual_days": r"[;|,/\s]+"}
_TRUE = {"1", "true", "yes", "y", "active", "enabled"}
_FALSE = {"0", "false", "no", "n", "inactive", "disabled"}


@dataclass(frozen=True, slots=True)
class Table:
    columns: dict[str, str]  # field → header as written
    rows: list[tuple[int, dict[str, str]]]  # (spreadsheet row, field → cell text)
    unknown_headers: list[str]


def _key(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", header.lower()).strip()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace("\x00", "").strip()


def _raw_rows(data: bytes, filename: str) -> Iterator[list[str]]:
    if data[:2] == b"PK" or filename.lower().endswith((".xlsx", ".xlsm")):
        try:
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a broken file; all mean "not a workbook"
            raise InvalidInput(f"'{filename}' is not a readable .xlsx workbook: {exc}", code="bad_spreadsheet") from exc
        try:
            for row in workbook.worksheets[0].iter_rows(values_only=True):
                yield [_cell(value) for value in row]
        finally:
            workbook.close()
        return
    if b"\x00" in data[:4096]:  # binary, not text
        raise InvalidInput(f"'{filename}' is neither CSV nor .xlsx.", code="bad_spreadsheet")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        for row in csv.reader(io.StringIO(text, newline=""), dialect):
            yield [_cell(cell) for cell in row]
    except csv.Error as exc:
        raise InvalidInput(f"'{filename}' is not readable as CSV: {exc}", code="bad_spreadsheet") from exc


def read_table(data: bytes, filename: str, kind: ImportKind) -> Table:
    """The first sheet (or the CSV) with headers mapped to field names."""
    synonyms = {_key(s): field for field, names in _HEADERS[kind].items() for s in (field, *names)}
    rows = _raw_rows(data, filename)
    header: list[str] = []
    header_row = 0
    for number, row in enumerate(rows, start=1):
        if any(row):
            header, header_row = row, number
            break
    if not header:
        raise InvalidInput(f"'{filename}' has no header row.", code="empty_import")
    columns: dict[str, str] = {}
    positions: dict[int, str] = {}
    unknown = []
    for position, name in enumerate(header):
        field = synonyms.get(_key(name))
        if field and field not in columns:
            columns[field], positions[position] = name, field
        elif name:
            unknown.append(name)
    table_rows: list[tuple[int, dict[str, str]]] = []
    for number, row in enumerate(rows, start=header_row + 1):
        if not any(row):
            continue
        if len(table_rows) >= MAX_ROWS:
            raise InvalidInput(f"An import takes at most {MAX_ROWS:,} rows.", code="too_many_rows")
        values = {positions[i]: cell for i, cell in enumerate(row) if i in positions and cell != ""}
        table_rows.append((number, values))
    return Table(columns, table_rows, unknown)


def _value(field: str, text: str) -> Any:
    if field in _LISTS:
        return [part.strip() for part in re.split(_LISTS[field], text) if part.strip()]
    if field == "active":
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        return text  # pydantic reports it
    if field == "unit_price":
        return text.replace(",", "").removeprefix("$").strip()
    return text


def _validate(table: Table, kind: ImportKind) -> tuple[list[tuple[int, BaseModel]], list[ImportProblem]]:
    model: type[BaseModel] = ProductIn if kind == "products" else OutletIn
    key = "sku" if kind == "products" else "code"
    problems: list[ImportProblem] = []
    missing = [field for field in (key, "name") if field not in table.columns]
    for field in missing:
        problems.append(ImportProblem(row=1, column=field, problem=f"the header row has no '{field}' column"))
    if missing:
        return [], problems
    valid: list[tuple[int, BaseModel]] = []
    seen: dict[str, int] = {}
    for number, values in table.rows:
        data = {field: _value(field, text) for field, text in values.items()}
        try:
            item = model.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors():
                field = str(error["loc"][0]) if error["loc"] else key
                column = table.columns.get(field, field)
                problems.append(ImportProblem(row=number, column=column, problem=_message(error, values.get(field))))
            continue
        identity = str(getattr(item, key))
        if identity in seen:
            problems.append(
                ImportProblem(
                    row=number,
                    column=table.columns[key],
                    problem=f"'{identity}' appears again (first on row {seen[identity]})",
                )
            )
            continue
        seen[identity] = number
        valid.append((number, item))
    return valid, problems


def _message(error: Mapping[str, Any], raw: str | None) -> str:
    text = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    if error.get("type") == "missing":
        return "is required"
    return f"{text} (got {raw!r})" if raw is not None else text


async def import_catalog(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    kind: ImportKind,
    data: bytes,
    filename: str,
    *,
    on_error: OnError = "reject",
    dry_run: bool = False,
) -> ImportReport:
    """Validates every row, then (unless rejected or a dry run) creates or updates products or outlets."""
    table = read_table(data, filename, kind)
    valid, problems = _validate(table, kind)
    apply = not dry_run and (on_error == "skip" or not problems) and bool(valid)
    created = updated = unchanged = 0
    if apply:
        created, updated, unchanged = await _upsert(session, workspace_id, kind, [item for _, item in valid])
        await bump_revision(session, workspace_id)
    return ImportReport(
        kind=kind,
        rows=len(table.rows),
        created=created,
        updated=updated,
        unchanged=unchanged,
        skipped=len(table.rows) - len(valid) if apply else len(table.rows),
        applied=apply,
        problems=problems,
    )


async def _upsert(
    session: AsyncSession, workspace_id: uuid.UUID, kind: ImportKind, items: list[BaseModel]
) -> tuple[int, int, int]:
    table: type[Product] | type[Outlet] = Product if kind == "products" else Outlet
    key = "sku" if kind == "products" else "code"
    column = getattr(table, key)
    existing = {
        getattr(row, key): row
        for row in await session.scalars(
            select(table).where(table.workspace_id == workspace_id, column.in_([getattr(i, key) for i in items]))
        )
    }
    created = updated = unchanged = 0
    for item in items:
        values = item.model_dump()
        row = existing.get(values[key])
        if row is None:
            session.add(table(workspace_id=workspace_id, **values))
            created += 1
            continue
        changed = {name: value for name, value in values.items() if getattr(row, name) != value}
        for name, value in changed.items():
            setattr(row, name, value)
        updated += bool(changed)
        unchanged += not changed
    await session.flush()
    return created, updated, unchanged
