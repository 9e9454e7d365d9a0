"""Dates as files write them: ISO, d/m/Y or m/d/Y (decided once per column, from the values that can only be read
one way), Excel serial numbers and Excel date cells, year-months and month names for monthly periods."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from opsdesk.planner.imports.schemas import DateOrder

Cell = str | int | float | bool | date | datetime | None

_EXCEL_EPOCH = date(1899, 12, 30)  # Excel's day 0 (it counts 1900 as a leap year; serials after Feb 1900 agree)
_FIRST_SERIAL = 18_264  # 1950-01-01: smaller numbers in a date column are counts or years, not dates
_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z?)?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_YEAR_MONTH = re.compile(r"^(\d{4})[-/.](\d{1,2})$")
_SLASHED = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})(?: \d{1,2}:\d{2}(?::\d{2})?)?$")
_SERIAL = re.compile(r"^\d{1,6}(?:\.0+)?$")
_MONTH_FORMATS = ("%b %Y", "%B %Y", "%b-%Y", "%B-%Y", "%b-%y", "%b %y")


@dataclass(frozen=True, slots=True)
class DateProblem:
    row: int
    problem: str
    code: str


@dataclass(frozen=True, slots=True)
class DateColumn:
    values: dict[int, date]  # row → date, for the rows that could be read
    problems: list[DateProblem]
    format: str | None  # "ISO", "d/m/Y", "m/d/Y", "Excel", or several joined by " + "


def _year(text: str) -> int:
    return int(text) + 2000 if len(text) == 2 else int(text)


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _excel(serial: float) -> date | None:
    if not _FIRST_SERIAL <= serial < 2_958_466:  # 9999-12-31
        return None
    return _EXCEL_EPOCH + timedelta(days=int(serial))


def _plain(cell: Cell) -> tuple[date | None, str | None]:
    """Reads a cell that means one date whatever the file's order; (None, None) when it is d/m or m/d."""
    if isinstance(cell, datetime):
        return cell.date(), "Excel"
    if isinstance(cell, date):
        return cell, "Excel"
    if isinstance(cell, bool):
        return None, "invalid"
    if isinstance(cell, int | float):
        return _excel(float(cell)), "Excel"
    text = str(cell).strip()
    if match := _ISO.match(text) or _COMPACT.match(text):
        return _make(int(match[1]), int(match[2]), int(match[3])), "ISO"
    if match := _YEAR_MONTH.match(text):
        return _make(int(match[1]), int(match[2]), 1), "ISO"
    if _SLASHED.match(text):
        return None, None
    if _SERIAL.match(text):
        return _excel(float(text)), "Excel"
    for pattern in _MONTH_FORMATS:
        try:
            return datetime.strptime(text, pattern).date(), "month name"
        except ValueError:
            continue
    return None, "invalid"


def _order_evidence(slashed: dict[int, tuple[int, int, int]]) -> tuple[list[int], list[int]]:
    """Rows that can only be d/m (first part over 12) and rows that can only be m/d (second part over 12)."""
    day_first = [row for row, (a, b, _) in slashed.items() if a > 12 >= b]
    month_first = [row for row, (a, b, _) in slashed.items() if b > 12 >= a]
    return day_first, month_first


def read_dates(cells: Sequence[tuple[int, Cell]], column: str, order: DateOrder | None = None) -> DateColumn:
    """Reads one column's dates; d/m vs m/d is decided by the column's own unambiguous values, else by ``order``."""
    values: dict[int, date] = {}
    problems: list[DateProblem] = []
    formats: list[str] = []
    slashed: dict[int, tuple[int, int, int]] = {}
    for row, cell in cells:
        value, kind = _plain(cell)
        if kind is None:
            match = _SLASHED.match(str(cell).strip())
            assert match is not None
            first, second = int(match[1]), int(match[2])
            if first > 12 and second > 12:  # neither can be a month
                problems.append(DateProblem(row, f"{str(cell)!r} is not a date", "bad_date"))
            else:
                slashed[row] = (first, second, _year(match[3]))
            continue
        if value is None:
            problems.append(DateProblem(row, f"{str(cell)!r} is not a date", "bad_date"))
            continue
        values[row] = value
        if kind not in formats:
            formats.append(kind)
    if slashed:
        day_first, month_first = _order_evidence(slashed)
        chosen: DateOrder | None
        if day_first and month_first:
            problems.append(
                DateProblem(
                    month_first[0],
                    f"'{column}' mixes day/month dates (row {day_first[0]}) and month/day dates "
                    f"(row {month_first[0]}); write the column one way, ideally as YYYY-MM-DD",
                    "mixed_date_order",
                )
            )
            chosen = None
        elif day_first or month_first:
            chosen = "dmy" if day_first else "mdy"
        else:
            chosen = order
            if chosen is None:
                first = min(slashed)
                problems.append(
                    DateProblem(
                        first,
                        f"'{column}' dates such as row {first} could be day/month or month/day, and no date in the "
                        "file tells which; say which (date_order 'dmy' or 'mdy') or write them as YYYY-MM-DD",
                        "ambiguous_date",
                    )
                )
        if chosen is not None:
            formats.append("d/m/Y" if chosen == "dmy" else "m/d/Y")
            for row, (a, b, year) in slashed.items():
                day, month = (a, b) if chosen == "dmy" else (b, a)
                value = _make(year, month, day)
                if value is None:
                    problems.append(DateProblem(row, f"{a}/{b}/{year} is not a date", "bad_date"))
                else:
                    values[row] = value
    return DateColumn(values, sorted(problems, key=lambda p: p.row), " + ".join(formats) or None)
