"""Imports planner files: every file of an import is read and checked first, then all are written in one savepoint
of the caller's transaction — all or nothing. A file whose content (sha256) was imported before as the same kind is
skipped and said so; rows are upserted on their natural keys, so another file with the same rows changes nothing.
A dry run writes exactly as a real one and rolls its savepoint back, so its counts are the real ones."""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import ARRAY, String, Table, any_, bindparam, func, literal_column, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.errors import Conflict
from opsdesk.core.ids import new_id
from opsdesk.db.base import Base, utcnow
from opsdesk.planner.imports.reading import UnreadableFile, read_sheet
from opsdesk.planner.imports.schemas import (
    ColumnUse,
    FileReport,
    ImportKind,
    ImportOptions,
    ImportProblem,
    ImportReport,
    UploadedFile,
)
from opsdesk.planner.imports.validation import ParsedFile, check_items, parse_sheet, short_histories
from opsdesk.planner.models import (
    Allocation,
    InventoryUnit,
    MarketData,
    OnOrder,
    OutcomeFeedback,
    PlannerImport,
    PlannerItem,
    Sale,
)

_CHUNK = 10_000
_ORDER: tuple[ImportKind, ...] = ("items", "inventory", "on_order", "sales", "market", "allocations", "feedback")
_ITEM_FIELDS: tuple[str, ...] = ("name", "model_line", "variant", "options", "unit_cost", "unit_price", "lot_spaces")
_ITEM_FIELDS = (*_ITEM_FIELDS, "pack_multiple", "lead_time_weeks", "active")


class _Planned:
    """A file on its way: its report, and (when it is read and new) its parsed rows."""

    def __init__(self, upload: UploadedFile, report: FileReport, parsed: ParsedFile | None = None) -> None:
        self.upload, self.report, self.parsed = upload, report, parsed
        self.problems: list[ImportProblem] = []

    def fail(self, problem: str, code: str) -> None:
        self.problems.append(ImportProblem(file_name=self.upload.file_name, row=0, problem=problem, code=code))


async def import_file(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    upload: UploadedFile,
    *,
    created_by: str = "",
    options: ImportOptions | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """One file; see import_files."""
    return await import_files(session, workspace_id, [upload], created_by=created_by, options=options, dry_run=dry_run)


async def import_files(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    uploads: Sequence[UploadedFile],
    *,
    created_by: str = "",
    options: ImportOptions | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Checks every file, then (with no error and not a dry run) writes them all or nothing; items files first."""
    options = options or ImportOptions()
    today = options.today or date.today()
    planned = [await _read(session, workspace_id, upload, options, today) for upload in uploads]
    planned.sort(key=lambda plan: _ORDER.index(plan.upload.kind))
    items = await _item_ids(session, workspace_id)
    await _cross_check(session, workspace_id, planned, items)
    problems = [problem for plan in planned for problem in _problems(plan)]
    problems.sort(key=lambda p: (p.severity != "error", p.file_name, p.row))
    fresh = [plan for plan in planned if plan.parsed is not None]
    errors = any(problem.severity == "error" for problem in problems)
    if not errors and fresh:
        try:
            async with session.begin_nested() as savepoint:
                for plan in fresh:
                    await _write(session, workspace_id, plan, items, created_by)
                if dry_run:
                    await savepoint.rollback()
        except IntegrityError as exc:
            raise Conflict("Another import wrote the same rows at the same moment; try again.") from exc
    applied = not errors and not dry_run and bool(fresh)
    return ImportReport(
        files=[plan.report for plan in planned],
        problems=problems,
        applied=applied,
        dry_run=dry_run,
        message=_message(
            planned, errors=errors, dry_run=dry_run, error_count=sum(p.severity == "error" for p in problems)
        ),
    )


def _problems(plan: _Planned) -> list[ImportProblem]:
    found = list(plan.problems)
    if plan.parsed is not None:
        found += [problem.model_copy(update={"file_name": plan.upload.file_name}) for problem in plan.parsed.problems]
    return found


async def _read(
    session: AsyncSession, workspace_id: uuid.UUID, upload: UploadedFile, options: ImportOptions, today: date
) -> _Planned:
    digest = hashlib.sha256(upload.data).hexdigest()
    plan = _Planned(upload, FileReport(kind=upload.kind, file_name=upload.file_name, sha256=digest))
    size = len(upload.data)
    if size > options.max_bytes:
        plan.fail(f"the file is {_size(size)}; the limit is {_size(options.max_bytes)}", "file_too_large")
        return plan
    earlier = await session.scalar(
        select(PlannerImport).where(
            PlannerImport.workspace_id == workspace_id,
            PlannerImport.kind == upload.kind,
            PlannerImport.sha256 == digest,
        )
    )
    if earlier is not None:
        plan.report.already_imported, plan.report.import_id, plan.report.rows = True, earlier.id, earlier.rows
        plan.report.mapping = [ColumnUse(column=column, field=name) for name, column in earlier.mapping.items()]
        plan.report.unchanged = earlier.rows
        return plan
    if size == 0:
        plan.fail("the file is empty", "empty_file")
        return plan
    try:
        sheet = read_sheet(upload.data, upload.file_name)
    except UnreadableFile as exc:
        plan.fail(f"the file cannot be read: {exc}", "unreadable_file")
        return plan
    parsed = parse_sheet(upload.kind, sheet, options, today, upload.mapping)
    plan.parsed = parsed
    plan.report.rows = parsed.rows
    plan.report.mapping = [ColumnUse(column=column, field=name) for name, column in parsed.mapping.headers.items()]
    plan.report.unknown_columns = parsed.mapping.unknown
    plan.report.missing_columns = parsed.mapping.missing
    plan.report.date_format = parsed.date_format
    return plan


def _size(count: int) -> str:
    return f"{count / 1024 / 1024:.1f} MB" if count >= 1024 * 1024 else f"{count:,} bytes"


async def _item_ids(session: AsyncSession, workspace_id: uuid.UUID) -> dict[str, tuple[uuid.UUID, str]]:
    """The workspace's items, casefolded key → (id, key as stored)."""
    rows = await session.execute(
        select(PlannerItem.id, PlannerItem.key).where(PlannerItem.workspace_id == workspace_id)
    )
    return {key.casefold(): (item_id, key) for item_id, key in rows.tuples()}


async def _cross_check(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    planned: list[_Planned],
    items: dict[str, tuple[uuid.UUID, str]],
) -> None:
    known = set(items)
    for plan in planned:
        if plan.parsed is not None and plan.upload.kind == "items":
            known |= {str(record.values["key"]).casefold() for record in plan.parsed.records}
    seen: dict[tuple[str, str], str] = {}
    for plan in planned:
        identity = (plan.upload.kind, plan.report.sha256)
        if identity in seen and plan.parsed is not None:
            plan.fail(f"the same content as '{seen[identity]}' in this import", "duplicate_file")
            plan.parsed = None
            continue
        seen[identity] = plan.upload.file_name
        if plan.parsed is None or plan.parsed.has_errors or plan.upload.kind == "items":
            continue
        check_items(plan.parsed, known)
        if plan.upload.kind == "sales" and not plan.parsed.has_errors:
            short_histories(plan.parsed, await _stored_weeks(session, workspace_id, plan.parsed))


async def _stored_weeks(session: AsyncSession, workspace_id: uuid.UUID, parsed: ParsedFile) -> dict[str, set[date]]:
    """Distinct week starts already stored for the file's items (casefolded keys)."""
    keys = sorted({str(record.values["item"]).casefold() for record in parsed.records})
    week = func.date_trunc("week", Sale.sale_date)
    rows = await session.execute(
        select(func.lower(PlannerItem.key), week)
        .join(Sale, Sale.item_id == PlannerItem.id)
        .where(PlannerItem.workspace_id == workspace_id, func.lower(PlannerItem.key) == any_(_text_array(keys)))
        .group_by(func.lower(PlannerItem.key), week)
    )
    found: dict[str, set[date]] = defaultdict(set)
    for key, started in rows.tuples():
        found[key].add(started.date())
    return found


def _text_array(values: list[str]) -> Any:
    return bindparam("keys", values, type_=ARRAY(String))


async def _write(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    plan: _Planned,
    items: dict[str, tuple[uuid.UUID, str]],
    created_by: str,
) -> None:
    parsed = plan.parsed
    assert parsed is not None
    record = PlannerImport(
        workspace_id=workspace_id,
        kind=plan.upload.kind,
        file_name=plan.upload.file_name[:300],
        sha256=plan.report.sha256,
        rows=parsed.rows,
        mapping=dict(parsed.mapping.headers),
        summary={},
        created_by=created_by[:320],
    )
    session.add(record)
    await session.flush()
    if plan.upload.kind == "items":
        counts = await _write_items(session, workspace_id, parsed, items)
    else:
        counts = await _upsert(session, workspace_id, parsed, items, record.id)
    plan.report.created, plan.report.updated, plan.report.unchanged = counts
    plan.report.import_id = record.id
    record.summary = {"created": counts[0], "updated": counts[1], "unchanged": counts[2]}
    await session.flush()


async def _write_items(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    parsed: ParsedFile,
    items: dict[str, tuple[uuid.UUID, str]],
) -> tuple[int, int, int]:
    """Creates new items and changes the given fields of known ones; an empty cell leaves a field as it is."""
    existing = {
        item.key.casefold(): item
        for item in await session.scalars(select(PlannerItem).where(PlannerItem.workspace_id == workspace_id))
    }
    created = updated = 0
    for record in parsed.records:
        given = {name: record.values[name] for name in _ITEM_FIELDS if record.values.get(name) is not None}
        key = str(record.values["key"])
        item = existing.get(key.casefold())
        if item is None:
            item = PlannerItem(id=new_id(), workspace_id=workspace_id, key=key, **given)
            session.add(item)
            existing[key.casefold()] = item
            items[key.casefold()] = (item.id, key)
            created += 1
            continue
        changes = {name: value for name, value in given.items() if getattr(item, name) != value}
        for name, value in changes.items():
            setattr(item, name, value)
        updated += bool(changes)
    await session.flush()
    return created, updated, len(parsed.records) - created - updated


_TABLES: dict[ImportKind, type[Base]] = {
    "inventory": InventoryUnit,
    "sales": Sale,
    "market": MarketData,
    "allocations": Allocation,
    "feedback": OutcomeFeedback,
    "on_order": OnOrder,
}
_CONSTRAINTS: dict[ImportKind, str] = {
    "inventory": "uq_planner_inventory_units_workspace_snapshot_unit",
    "sales": "uq_planner_sales_workspace_item_date_source",
    "market": "uq_planner_market_data_workspace_row",
    "allocations": "uq_planner_allocations_workspace_row",
    "feedback": "uq_planner_feedback_workspace_item_period",
    "on_order": "uq_planner_on_order_workspace_row",
}
# file field → column, where they differ; the natural key's columns are never updated
_RENAMES: dict[ImportKind, dict[str, str]] = {"sales": {"date": "sale_date"}}
_KEYS: dict[ImportKind, set[str]] = {
    "inventory": {"snapshot_date", "unit_id"},
    "sales": {"item_id", "sale_date", "source_key"},
    "market": {"period", "segment", "item_key", "region"},
    "allocations": {"period", "model_line", "item_key"},
    "feedback": {"item_id", "period_start"},
    "on_order": {"item_id", "expected_week", "reference"},
}
_TEXT_DEFAULTS = {"source_key", "segment", "item_key", "region", "model_line", "reference"}


def _row(kind: ImportKind, values: dict[str, Any], items: dict[str, tuple[uuid.UUID, str]]) -> dict[str, Any]:
    renames = _RENAMES.get(kind, {})
    row = {renames.get(name, name): value for name, value in values.items() if name != "item" and name[0] != "_"}
    item = values.get("item")
    if kind in ("market", "allocations"):
        row["item_key"] = items[str(item).casefold()][1] if item else ""
    elif item:
        row["item_id"] = items[str(item).casefold()][0]
    for name in _TEXT_DEFAULTS & set(row) | (_KEYS[kind] & _TEXT_DEFAULTS):
        row[name] = row.get(name) or ""
    if kind == "inventory" and row.get("quantity") is None:
        row["quantity"] = 1
    return row


async def _upsert(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    parsed: ParsedFile,
    items: dict[str, tuple[uuid.UUID, str]],
    import_id: uuid.UUID,
) -> tuple[int, int, int]:
    """Inserts new rows and updates changed ones on the natural key; returns (created, updated, unchanged)."""
    kind = parsed.kind
    table: Table = _TABLES[kind].__table__  # type: ignore[assignment]
    rows = [_row(kind, record.values, items) for record in parsed.records]
    extra = {"grain": parsed.grain} if kind == "sales" else {}
    now = utcnow()
    for row in rows:
        row.update(extra, id=new_id(), workspace_id=workspace_id, import_id=import_id, created_at=now)
    given: set[str] = set().union(*(row.keys() for row in rows))
    data_columns = sorted(given - _KEYS[kind] - {"id", "workspace_id", "created_at", "import_id"})
    created = updated = 0
    base = insert(table)
    excluded = base.excluded
    statement: Any = base.on_conflict_do_update(
        constraint=_CONSTRAINTS[kind],
        set_={name: excluded[name] for name in (*data_columns, "import_id")},
        where=or_(*(table.c[name].is_distinct_from(excluded[name]) for name in data_columns))
        if data_columns
        else literal_column("false"),
    ).returning(literal_column("(xmax = 0)").label("inserted"))
    for start in range(0, len(rows), _CHUNK):  # one statement compiled once, sent in pages ("insertmanyvalues")
        result = await session.execute(statement, rows[start : start + _CHUNK])
        for (inserted,) in result.tuples():
            created += bool(inserted)
            updated += not inserted
    return created, updated, len(rows) - created - updated


def _message(planned: list[_Planned], *, errors: bool, dry_run: bool, error_count: int) -> str:
    if errors:
        return f"Nothing was imported: {error_count} problem{'s' if error_count != 1 else ''} to fix first."
    repeated = [plan.upload.file_name for plan in planned if plan.report.already_imported]
    parts = [
        f"{plan.upload.kind} '{plan.upload.file_name}': {plan.report.created} new, {plan.report.updated} changed, "
        f"{plan.report.unchanged} unchanged"
        for plan in planned
        if plan.parsed is not None
    ]
    again = f"Already imported before, nothing changed: {', '.join(repeated)}." if repeated else ""
    if not parts:
        return again or "Nothing to import."
    prefix = "Dry run, nothing written — would import: " if dry_run else "Imported: "
    return " ".join(filter(None, [prefix + "; ".join(parts) + ".", again]))
