"""Catalog import from Excel (.xlsx) or CSV: every row checked, every problem reported as (row, column, problem).

Headers are matched loosely ("Unit Price", "unit_price", "Price" …; `COLUMNS` lists every name each field takes);
other headers are reported as unknown columns. Lists (aliases, phones, usual days, trigger SKUs and categories) are
separated by ``;`` or ``|`` (phones, days, SKUs and categories also by ``,``). A row updates the record with its key
(SKU, outlet code, rule name) when there is one; an empty cell leaves that field as it is, so importing the same file
again changes nothing. With ``on_error="reject"`` nothing is written when any row has a problem; with ``"skip"`` the
good rows are written and the bad ones reported. A dry run reports the same, row by row, and writes nothing.
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
from opsdesk.orders.catalog.schemas import (
    DerivedRuleIn,
    ImportProblem,
    ImportReport,
    ImportRowAction,
    OutletIn,
    ProductIn,
)
from opsdesk.orders.catalog.service import bump_revision, known_skus, rule_problems
from opsdesk.orders.models import DerivedRule, Outlet, Product

ImportKind = Literal["products", "outlets", "rules"]
OnError = Literal["reject", "skip"]
MAX_ROWS = 20_000

# field → the other headers it is known by (case, spaces, "_" and punctuation do not matter)
COLUMNS: dict[ImportKind, dict[str, tuple[str, ...]]] = {
    "products": {
        "sku": ("code", "item code", "product code", "item no", "item number"),
        "name": ("product", "product name", "item", "item name", "description"),
        "aliases": ("alias", "other names", "synonyms"),
        "unit": ("uom", "unit of measure"),
        "pack_size": ("pack", "pieces per unit", "pcs per unit", "per unit"),
        "unit_price": ("price", "selling price", "unit cost"),
        "category": ("group", "type"),
        "stock": ("qty on hand", "on hand", "inventory", "quantity in stock"),
        "min_order": ("minimum order", "moq", "min qty"),
        "active": ("enabled", "status"),
    },
    "outlets": {
        "code": ("outlet code", "customer code", "account", "account number"),
        "name": ("outlet", "outlet name", "customer", "store", "shop"),
        "aliases": ("alias", "other names"),
        "address": ("delivery address", "place of delivery"),
        "contact_name": ("contact", "contact person"),
        "email": ("e-mail", "email address"),
        "phones": ("phone", "phone numbers", "mobile", "whatsapp", "tel"),
        "billing_entity": ("company", "billing", "bill to", "legal name"),
        "usual_days": ("order days", "delivery days", "days"),
        "active": ("enabled", "status"),
    },
    "rules": {
        "name": ("rule", "rule name"),
        "derived_sku": ("derived", "derived product", "adds", "add sku", "item added"),
        "trigger_skus": ("trigger sku", "triggers", "trigger", "when ordered"),
        "trigger_categories": ("trigger category", "categories", "category"),
        "per_trigger_piece": ("per piece", "per trigger", "quantity per piece", "ratio"),
        "skip_if_ordered": ("skip", "unless ordered"),
        "charged": ("chargeable", "charge", "billed"),
        "note": ("notes", "remark", "comment"),
    },
}
# list field → (the pattern that splits its cell, the same in words); a line break also separates in every list
LIST_SEPARATORS = {
    "aliases": (r"[;|\n]", "; or |"),
    "phones": (r"[;|,/\n]", "; | , or /"),
    "usual_days": (r"[;|,/\s]+", "; | , / or spaces"),
    "trigger_skus": (r"[;|,\s]+", "; | , or spaces"),
    "trigger_categories": (r"[;|,\n]", "; | or ,"),
}
_TRUE = {"1", "true", "yes", "y", "active", "enabled"}
_FALSE = {"0", "false", "no", "n", "inactive", "disabled"}
_BOOLEANS = {
    "active": (_TRUE, _FALSE),
    "skip_if_ordered": (_TRUE, _FALSE),
    "charged": (_TRUE | {"charged"}, _FALSE | {"free"}),
}


@dataclass(frozen=True, slots=True)
class _Kind:
    table: type[Product] | type[Outlet] | type[DerivedRule]
    schema: type[BaseModel]
    key: str
    required: tuple[str, str]  # the columns the header row must have


_KINDS: dict[ImportKind, _Kind] = {
    "products": _Kind(Product, ProductIn, "sku", ("sku", "name")),
    "outlets": _Kind(Outlet, OutletIn, "code", ("code", "name")),
    "rules": _Kind(DerivedRule, DerivedRuleIn, "name", ("name", "derived_sku")),
}


def columns_help(kind: ImportKind) -> str:
    """The columns an import of ``kind`` reads, with the headers each is known by, as Markdown (for OpenAPI)."""
    first, second = _KINDS[kind].required
    lines = [f"Columns (`{first}` and `{second}` are required; headers match ignoring case and punctuation):"]
    for field, names in COLUMNS[kind].items():
        also = f" (also: {', '.join(names)})" if names else ""
        listed = f"; a list separated by {LIST_SEPARATORS[field][1]}" if field in LIST_SEPARATORS else ""
        lines.append(f"- `{field}`{also}{listed}")
    return "\n".join(lines)


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
    synonyms = {_key(s): field for field, names in COLUMNS[kind].items() for s in (field, *names)}
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
    if field in LIST_SEPARATORS:
        return [part.strip() for part in re.split(LIST_SEPARATORS[field][0], text) if part.strip()]
    if field in _BOOLEANS:
        true, false = _BOOLEANS[field]
        lowered = text.lower()
        if lowered in true:
            return True
        if lowered in false:
            return False
        return text  # pydantic reports it
    if field == "unit_price":
        return text.replace(",", "").removeprefix("$").strip()
    return text


@dataclass(slots=True)
class _Row:
    number: int
    key: str
    item: BaseModel | None = None  # None: the row has problems
    action: Literal["create", "update", "unchanged", "error"] = "error"
    changes: dict[str, Any] | None = None


def _validate(table: Table, kind: ImportKind) -> tuple[list[_Row], list[ImportProblem]]:
    spec = _KINDS[kind]
    problems: list[ImportProblem] = []
    missing = [field for field in spec.required if field not in table.columns]
    for field in missing:
        problems.append(ImportProblem(row=1, column=field, problem=f"the header row has no '{field}' column"))
    if missing:
        return [_Row(number, values.get(spec.key, "")) for number, values in table.rows], problems
    rows: list[_Row] = []
    seen: dict[str, int] = {}
    for number, values in table.rows:
        row = _Row(number, values.get(spec.key, ""))
        rows.append(row)
        data = {field: _value(field, text) for field, text in values.items()}
        try:
            item = spec.schema.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors():
                field = str(error["loc"][0]) if error["loc"] else spec.key
                column = table.columns.get(field, field)
                problems.append(ImportProblem(row=number, column=column, problem=_message(error, values.get(field))))
            continue
        identity = str(getattr(item, spec.key))
        if identity in seen:
            problems.append(
                ImportProblem(
                    row=number,
                    column=table.columns[spec.key],
                    problem=f"'{identity}' appears again (first on row {seen[identity]})",
                )
            )
            continue
        seen[identity] = number
        row.key, row.item = identity, item
    return rows, problems


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
    """Validates every row and says what each does; then (unless rejected or a dry run) writes them."""
    table = read_table(data, filename, kind)
    rows, problems = _validate(table, kind)
    existing = await _plan(session, workspace_id, kind, table, rows, problems)
    good = [row for row in rows if row.item is not None]
    writes = (on_error == "skip" or not problems) and bool(good)
    if writes and not dry_run:
        await _write(session, workspace_id, kind, good, existing)
    counts = {action: sum(row.action == action for row in good) if writes else 0 for action in ("create", "update")}
    return ImportReport(
        kind=kind,
        rows=len(rows),
        created=counts["create"],
        updated=counts["update"],
        unchanged=sum(row.action == "unchanged" for row in good) if writes else 0,
        errors=len(rows) - len(good),
        skipped=len(rows) - len(good) if writes else len(rows),
        applied=writes and not dry_run,
        dry_run=dry_run,
        unknown_columns=table.unknown_headers,
        row_actions=[
            ImportRowAction(row=row.number, key=row.key, action=row.action, changes=sorted(row.changes or {}))
            for row in rows
        ],
        problems=sorted(problems, key=lambda p: p.row),
    )


async def _plan(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    kind: ImportKind,
    table: Table,
    rows: list[_Row],
    problems: list[ImportProblem],
) -> dict[str, Any]:
    """Sets each good row's action (create, update with its changes, unchanged); returns the existing records."""
    spec = _KINDS[kind]
    keys = [str(getattr(row.item, spec.key)) for row in rows if row.item is not None]
    column = getattr(spec.table, spec.key)
    existing: dict[str, Any] = {
        getattr(record, spec.key): record
        for record in await session.scalars(
            select(spec.table).where(spec.table.workspace_id == workspace_id, column.in_(keys))
        )
    }
    known = await known_skus(session, workspace_id) if kind == "rules" else set()
    for row in rows:
        if row.item is None:
            continue
        record = existing.get(row.key)
        given = row.item.model_dump(exclude_unset=True)  # an empty cell leaves the field as it is
        if kind == "rules":
            current = {} if record is None else {name: getattr(record, name) for name in type(row.item).model_fields}
            found = rule_problems({**current, **given}, known)
            for problem in found:
                column_name = table.columns.get(problem.field, problem.field)
                problems.append(ImportProblem(row=row.number, column=column_name, problem=problem.message))
            if found:
                row.item = None
                continue
        if record is None:
            row.action = "create"
            continue
        row.changes = {name: value for name, value in given.items() if getattr(record, name) != value}
        row.action = "update" if row.changes else "unchanged"
    return existing


async def _write(
    session: AsyncSession, workspace_id: uuid.UUID, kind: ImportKind, rows: list[_Row], existing: dict[str, Any]
) -> None:
    spec = _KINDS[kind]
    for row in rows:
        if row.action == "create" and row.item is not None:
            session.add(spec.table(workspace_id=workspace_id, **row.item.model_dump()))
        elif row.action == "update":
            for name, value in (row.changes or {}).items():
                setattr(existing[row.key], name, value)
    if any(row.action in ("create", "update") for row in rows):
        await session.flush()
        await bump_revision(session, workspace_id)
