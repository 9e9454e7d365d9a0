"""Every row checked before anything is written: columns, types, signs, dates (none in the future where they record
what happened), duplicates inside the file, items nobody declared, and histories too short to model."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from opsdesk.planner.imports import values as cells
from opsdesk.planner.imports.columns import ONE_OF, ColumnMapping, FieldSpec, map_columns, normalise, specs
from opsdesk.planner.imports.dates import Cell, read_dates
from opsdesk.planner.imports.reading import RawSheet
from opsdesk.planner.imports.schemas import ImportKind, ImportOptions, ImportProblem

MAX_PROBLEMS_PER_FILE = 500
SHORT_HISTORY_WEEKS = 2  # an item sold in fewer distinct weeks than this cannot be modelled
_HEADER_SEARCH_ROWS = 20
_TEXT_LIMITS = {"name": 300, "variant": 200, "options": None, "created_by": 320}
_NOT_IN_FUTURE = {"sales": "date", "inventory": "snapshot_date", "feedback": "period_start"}
_DUPLICATE_COLUMN = {"items": "key", "inventory": "unit_id", "sales": "date", "feedback": "period_start"}
_DECIMAL_LIMITS = {"lot_spaces": Decimal(10**5), "trend": Decimal(10**6), "days_to_turn": Decimal(10**6)}
_SIGNED = {"gross", "gross_profit", "trend"}  # money and decimals that may be below zero
# the fields that name one row: a second row with the same values is a duplicate
IDENTITY: dict[ImportKind, tuple[str, ...]] = {
    "items": ("key",),
    "inventory": ("snapshot_date", "unit_id"),
    "sales": ("item", "date", "source_key"),
    "market": ("period", "segment", "item", "region"),
    "allocations": ("period", "model_line", "item"),
    "feedback": ("item", "period_start"),
    "on_order": ("item", "expected_week", "reference"),
}


@dataclass(frozen=True, slots=True)
class Record:
    row: int
    values: dict[str, Any]  # field → typed value (str, Decimal, int, bool, date, None)


@dataclass(slots=True)
class ParsedFile:
    kind: ImportKind
    mapping: ColumnMapping
    records: list[Record] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)
    rows: int = 0
    date_format: str | None = None
    grain: str = "week"  # sales only: 'week' or 'day'

    def column(self, name: str) -> str:
        return self.mapping.headers.get(name, name)

    def add(self, row: int, column: str, problem: str, code: str, *, warning: bool = False) -> None:
        self.problems.append(
            ImportProblem(
                row=row, column=column, problem=problem, code=code, severity="warning" if warning else "error"
            )
        )

    @property
    def has_errors(self) -> bool:
        return any(problem.severity == "error" for problem in self.problems)


def _header_row(rows: list[tuple[int, list[Cell]]], kind: ImportKind, overrides: Mapping[str, str]) -> int:
    """The index (in ``rows``) of the header: the first of the top rows that names the most fields."""
    best, best_score = 0, 0
    for index, (_, row) in enumerate(rows[:_HEADER_SEARCH_ROWS]):
        mapping = map_columns([cells.text(cell, None) if cell is not None else "" for cell in row], kind, overrides)
        if len(mapping.fields) > best_score:
            best, best_score = index, len(mapping.fields)
    return best


def parse_sheet(
    kind: ImportKind, sheet: RawSheet, options: ImportOptions, today: date, overrides: Mapping[str, str] | None = None
) -> ParsedFile:
    """Maps the columns and reads every row into typed records, collecting (row, column, problem) on the way."""
    overrides = overrides or {}
    if not sheet.rows:
        parsed = ParsedFile(kind, ColumnMapping({}, {}, [], [], []))
        parsed.add(0, "", "the file is empty", "empty_file")
        return parsed
    start = _header_row(sheet.rows, kind, overrides)
    header_number, header_cells = sheet.rows[start]
    headers = [cells.text(cell, None) if cell is not None else "" for cell in header_cells]
    parsed = ParsedFile(kind, map_columns(headers, kind, overrides))
    data = sheet.rows[start + 1 :]
    parsed.rows = len(data)
    _check_columns(parsed, header_number, options)
    if not data:
        parsed.add(0, "", "the file has a header row but no data rows", "empty_file")
    _check_formulas(parsed, sheet, header_number, headers)
    if parsed.has_errors:
        return parsed
    _read_records(parsed, data, options, today)
    _check_duplicates(parsed)
    if len(parsed.problems) > MAX_PROBLEMS_PER_FILE:
        more = len(parsed.problems) - MAX_PROBLEMS_PER_FILE
        parsed.problems = parsed.problems[:MAX_PROBLEMS_PER_FILE]
        parsed.add(0, "", f"{more} more problems are not listed", "more_problems")
    return parsed


def _check_columns(parsed: ParsedFile, header_row: int, options: ImportOptions) -> None:
    mapping, kind = parsed.mapping, parsed.kind
    for name in mapping.missing:
        parsed.add(header_row, name, f"no column gives '{name}' (a required column)", "missing_column")
    if kind == "inventory" and "snapshot_date" not in mapping.fields and options.snapshot_date is None:
        parsed.add(header_row, "snapshot_date", "no snapshot date column, and no snapshot date given", "missing_column")
    if kind in ONE_OF and not any(name in mapping.fields for name in ONE_OF[kind]):
        first, second = ONE_OF[kind]
        parsed.add(header_row, first, f"a '{first}' or an '{second}' column is required", "missing_column")
    for header in mapping.unknown_overrides:
        parsed.add(header_row, header, "the mapping names a column the file lacks or a field it has no", "bad_mapping")
    for header in mapping.unknown:
        parsed.add(
            header_row,
            header,
            "not a known column; its cells are not read",
            "unknown_column",
            warning=not options.strict_columns,
        )


def _check_formulas(parsed: ParsedFile, sheet: RawSheet, header_row: int, headers: list[str]) -> None:
    read = set(parsed.mapping.fields.values())
    saved = 0
    for formula in sheet.formulas:
        if formula.row <= header_row or formula.position not in read:
            continue
        column = headers[formula.position] if formula.position < len(headers) else ""
        if formula.has_value:
            saved += 1
        else:
            parsed.add(
                formula.row,
                column,
                f"holds the formula {formula.formula[:80]!r} with no saved result; formulas are never run "
                "here — open and save the file in Excel, or paste the cells as values",
                "formula_without_value",
            )
    if saved:
        parsed.add(0, "", f"{saved} formula cells were read as their saved results", "formula_values", warning=True)


def _converter(spec: FieldSpec) -> Callable[[Cell], Any]:
    if spec.type == "quantity":
        return cells.quantity
    if spec.type == "integer":
        minimum = 1 if spec.name == "pack_multiple" else 0
        return lambda cell: cells.integer(cell, minimum)
    if spec.type in ("money", "decimal"):
        largest = _DECIMAL_LIMITS.get(spec.name, cells.LARGEST)
        if spec.name in _SIGNED:
            return lambda cell: cells.number(cell, largest)
        return lambda cell: cells.non_negative(cell, largest)
    if spec.type == "bool":
        return cells.boolean
    limit = _TEXT_LIMITS.get(spec.name, 100)
    return lambda cell: cells.text(cell, limit)


def _read_records(parsed: ParsedFile, data: list[tuple[int, list[Cell]]], options: ImportOptions, today: date) -> None:
    by_name = specs(parsed.kind)
    positions = parsed.mapping.fields

    def cell_of(row: list[Cell], name: str) -> Cell:
        position = positions[name]
        return row[position] if position < len(row) else None

    dates: dict[str, dict[int, date]] = {}
    formats: list[str] = []
    for name in (spec.name for spec in by_name.values() if spec.type == "date" and spec.name in positions):
        column = read_dates(
            [(n, cell_of(r, name)) for n, r in data if not cells.is_blank(cell_of(r, name))],
            parsed.column(name),
            options.date_order,
        )
        dates[name] = column.values
        formats += [column.format] if column.format else []
        for problem in column.problems:
            parsed.add(problem.row, parsed.column(name), problem.problem, problem.code)
    parsed.date_format = " + ".join(formats) or None
    converters = {name: _converter(by_name[name]) for name in positions if by_name[name].type not in ("date", "share")}
    shares: list[tuple[Record, bool]] = []
    for number, row in data:
        values: dict[str, Any] = {}
        ok = True
        for name in positions:
            spec, cell = by_name[name], cell_of(row, name)
            if cells.is_blank(cell):
                values[name] = None
                if spec.required:
                    parsed.add(number, parsed.column(name), "is empty; this column is required", "missing_value")
                    ok = False
                continue
            if spec.type == "date":
                values[name] = dates[name].get(number)
                ok = ok and values[name] is not None
                continue
            try:
                if spec.type == "share":
                    values[name], percent = cells.share(cell)
                    values["_percent"] = percent
                else:
                    values[name] = converters[name](cell)
            except cells.BadValue as exc:
                parsed.add(number, parsed.column(name), str(exc), exc.code)
                ok = False
        ok = _row_rules(parsed, number, values, options, today) and ok
        if ok:
            record = Record(number, values)
            parsed.records.append(record)
            if values.get("share") is not None:
                shares.append((record, bool(values.pop("_percent", False))))
    _scale_shares(shares)
    if parsed.kind == "sales":
        parsed.grain = _grain(parsed)


def _row_rules(parsed: ParsedFile, row: int, values: dict[str, Any], options: ImportOptions, today: date) -> bool:
    kind = parsed.kind
    if kind == "inventory" and values.get("snapshot_date") is None and "snapshot_date" not in parsed.mapping.fields:
        values["snapshot_date"] = options.snapshot_date
    if kind in ONE_OF and not any(values.get(name) for name in ONE_OF[kind]):
        first, second = ONE_OF[kind]
        parsed.add(row, parsed.column(first), f"the row names neither a {first} nor an {second}", "missing_value")
        return False
    name = _NOT_IN_FUTURE.get(kind)
    when = values.get(name) if name else None
    if name and isinstance(when, date) and when > today:
        parsed.add(row, parsed.column(name), f"{when.isoformat()} is in the future (today is {today})", "future_date")
        return False
    return True


def _scale_shares(shares: list[tuple[Record, bool]]) -> None:
    """Plain shares are fractions (0.12) unless one is above 1, then the column was written in percent (12)."""
    if any(not percent and record.values["share"] > 1 for record, percent in shares):
        for record, percent in shares:
            if not percent:
                record.values["share"] = record.values["share"] / 100


def _grain(parsed: ParsedFile) -> str:
    """'week' when the date column says so or every date falls on one weekday, else 'day'."""
    header = normalise(parsed.column("date"))
    if "week" in header or "wk" in header:
        return "week"
    days = {record.values["date"] for record in parsed.records}
    return "week" if len(days) > 1 and len({day.weekday() for day in days}) == 1 else "day"


def _check_duplicates(parsed: ParsedFile) -> None:
    identity = [name for name in IDENTITY[parsed.kind] if name in parsed.mapping.fields or name == "snapshot_date"]
    seen: dict[tuple[Any, ...], int] = {}
    kept: list[Record] = []
    for record in parsed.records:
        key = tuple(_identity_value(record.values.get(name)) for name in identity)
        if key in seen:
            code = "duplicate_date" if parsed.kind in ("sales", "feedback") else "duplicate_row"
            described = ", ".join(f"{name} {_show(value)}" for name, value in zip(identity, key, strict=True) if value)
            column = parsed.column(_DUPLICATE_COLUMN.get(parsed.kind, "period"))
            parsed.add(record.row, column, f"{described} appears again (first on row {seen[key]})", code)
            continue
        seen[key] = record.row
        kept.append(record)
    parsed.records = kept


def _identity_value(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else ("" if value is None else value)


def _show(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def check_items(parsed: ParsedFile, known: set[str]) -> None:
    """Rows naming an item that is neither in the workspace nor in the same import are errors."""
    if "item" not in parsed.mapping.fields:
        return
    folded = {key.casefold() for key in known}
    for record in parsed.records:
        item = record.values.get("item")
        if item and item.casefold() not in folded:
            parsed.add(
                record.row,
                parsed.column("item"),
                f"unknown item '{item}': it is not in the workspace's items nor in this import's items file",
                "unknown_item",
            )


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def short_histories(
    parsed: ParsedFile, existing_weeks: Mapping[str, Iterable[date]], *, minimum: int = SHORT_HISTORY_WEEKS
) -> None:
    """Warns (never refuses) for each item whose sales, stored and imported, cover fewer than ``minimum`` weeks."""
    weeks: dict[str, set[date]] = defaultdict(set)
    first_row: dict[str, int] = {}
    for record in parsed.records:
        item = str(record.values["item"]).casefold()
        weeks[item].add(week_of(record.values["date"]))
        first_row.setdefault(item, record.row)
    for item, imported in weeks.items():
        total = imported | {week_of(day) for day in existing_weeks.get(item, ())}
        if len(total) < minimum:
            parsed.add(
                first_row[item],
                parsed.column("item"),
                f"item has {len(total)} week{'s' if len(total) != 1 else ''} of history: too short to model — "
                "a simple method will be used",
                "too_short",
                warning=True,
            )
