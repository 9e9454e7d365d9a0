"""Dates as files write them: the order of day and month is decided per column, never guessed row by row."""

from __future__ import annotations

from datetime import date, datetime

from opsdesk.planner.imports.dates import Cell, read_dates


def _read(*cells: Cell, order: str | None = None) -> tuple[dict[int, date], list[tuple[int, str]], str | None]:
    column = read_dates(list(enumerate(cells, start=2)), "Date", order)  # type: ignore[arg-type]
    return column.values, [(p.row, p.code) for p in column.problems], column.format


def test_iso_dates_and_year_months() -> None:
    values, problems, kind = _read("2025-03-03", "2025/03/10", "2025-03-17T00:00:00", "20250324", "2025-04")

    assert problems == [] and kind == "ISO"
    assert list(values.values()) == [date(2025, 3, d) for d in (3, 10, 17, 24)] + [date(2025, 4, 1)]


def test_a_day_over_12_anywhere_makes_the_column_day_first() -> None:
    values, problems, kind = _read("03/04/2025", "10/04/2025", "17/04/2025")

    assert problems == [] and kind == "d/m/Y"
    assert values[2] == date(2025, 4, 3)


def test_a_second_part_over_12_makes_the_column_month_first() -> None:
    values, problems, kind = _read("04/03/2025", "04/10/2025", "04/17/25")

    assert problems == [] and kind == "m/d/Y"
    assert values[2] == date(2025, 4, 3) and values[4] == date(2025, 4, 17)


def test_a_column_that_never_tells_is_ambiguous_unless_the_caller_says() -> None:
    _, problems, _ = _read("03/04/2025", "04/04/2025")
    values, told, kind = _read("03/04/2025", "04/04/2025", order="dmy")

    assert problems == [(2, "ambiguous_date")]
    assert told == [] and kind == "d/m/Y" and values[2] == date(2025, 4, 3)


def test_a_column_mixing_both_orders_is_refused() -> None:
    _, problems, _ = _read("13/04/2025", "04/13/2025")

    assert problems == [(3, "mixed_date_order")]


def test_excel_serials_and_date_cells() -> None:
    values, problems, kind = _read(45719, "45726", datetime(2025, 3, 17, 0, 0), date(2025, 3, 24))

    assert problems == [] and kind == "Excel"
    assert list(values.values()) == [date(2025, 3, d) for d in (3, 10, 17, 24)]


def test_what_is_not_a_date_is_named() -> None:
    _, problems, _ = _read("2025-02-30", "next week", "31/31/2025", 12)

    assert problems == [(2, "bad_date"), (3, "bad_date"), (4, "bad_date"), (5, "bad_date")]
