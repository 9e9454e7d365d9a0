"""Bad input gets a clear report — (row, column, problem) — and nothing is half-imported."""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from opsdesk.app.context import AppContext
from opsdesk.planner.imports.schemas import UploadedFile
from opsdesk.planner.models import PlannerImport, PlannerItem, Sale
from tests.planner.imports.helpers import (
    codes,
    count,
    csv_file,
    fixture,
    run,
    xlsx_bytes,
)

ITEMS = fixture("items", "dealer_items.csv")
HEADER = ["Week", "SKU", "Units Sold"]
FIRST_MONDAY = date(2021, 6, 7)


async def _only_problem(
    ctx: AppContext, workspace: uuid.UUID, *rows: list[str], **options: Any
) -> tuple[int, str, str, str]:
    report = await run(ctx, workspace, ITEMS, csv_file("sales", [HEADER, *rows]), **options)
    assert not report.applied
    errors = report.errors
    assert len(errors) == 1, errors
    assert await count(ctx, Sale, workspace) == 0 and await count(ctx, PlannerItem, workspace) == 0
    return errors[0].row, errors[0].column, errors[0].code, errors[0].problem


async def test_a_missing_required_column_is_named(ctx: AppContext, workspace: uuid.UUID) -> None:
    report = await run(ctx, workspace, csv_file("sales", [["Week", "SKU"], ["2025-03-03", "EXP-ST"]]))

    assert not report.applied
    assert [(p.row, p.column, p.code) for p in report.errors] == [(1, "quantity", "missing_column")]
    assert report.files[0].missing_columns == ["quantity"]


async def test_an_extra_column_is_reported_and_refused_when_strict(ctx: AppContext, workspace: uuid.UUID) -> None:
    rows = [["SKU", "Model", "Colour"], ["EXP-ST", "Explorer", "Blue"]]

    lenient = await run(ctx, workspace, csv_file("items", rows), dry_run=True)
    strict = await run(ctx, workspace, csv_file("items", rows), strict_columns=True)

    assert codes(lenient, "warning") == ["unknown_column"] and codes(lenient) == []
    assert [(p.row, p.column, p.code) for p in strict.errors] == [(1, "Colour", "unknown_column")]
    assert await count(ctx, PlannerItem, workspace) == 0


async def test_a_wrong_type_is_reported_with_its_cell(ctx: AppContext, workspace: uuid.UUID) -> None:
    report = await run(
        ctx,
        workspace,
        csv_file("items", [["SKU", "MSRP", "Lead Time"], ["EXP-ST", "call us", "6"], ["BRONCO-BB", "41200", "two"]]),
    )

    assert [(p.row, p.column, p.code) for p in report.errors] == [
        (2, "MSRP", "not_a_number"),
        (3, "Lead Time", "not_a_number"),
    ]
    assert "'call us' is not a number" in report.errors[0].problem


async def test_a_negative_quantity_is_refused(ctx: AppContext, workspace: uuid.UUID) -> None:
    row, column, code, problem = await _only_problem(
        ctx, workspace, ["2025-03-03", "EXP-ST", "2"], ["2025-03-10", "EXP-ST", "-1"]
    )
    assert (row, column, code) == (3, "Units Sold", "negative_quantity")
    assert "negative" in problem


async def test_a_non_numeric_quantity_is_refused(ctx: AppContext, workspace: uuid.UUID) -> None:
    row, column, code, _ = await _only_problem(ctx, workspace, ["2025-03-03", "EXP-ST", "a few"])
    assert (row, column, code) == (2, "Units Sold", "not_a_number")


async def test_the_same_item_and_date_twice_is_a_duplicate(ctx: AppContext, workspace: uuid.UUID) -> None:
    row, column, code, problem = await _only_problem(
        ctx, workspace, ["2025-03-03", "EXP-ST", "2"], ["2025-03-10", "EXP-ST", "1"], ["2025-03-03", "exp-st", "4"]
    )
    assert (row, column, code) == (4, "Week", "duplicate_date")
    assert "first on row 2" in problem


async def test_two_deals_on_one_day_are_not_duplicates(ctx: AppContext, workspace: uuid.UUID) -> None:
    sales = csv_file(
        "sales",
        [
            ["Date", "SKU", "Qty", "Deal No"],
            ["2025-03-03", "EXP-ST", "1", "D-1"],
            ["2025-03-03", "EXP-ST", "1", "D-2"],
            ["2025-03-04", "EXP-ST", "1", "D-3"],
        ],
    )

    report = await run(ctx, workspace, ITEMS, sales)

    assert report.applied and report.files[1].created == 3


async def test_a_sale_in_the_future_is_refused(ctx: AppContext, workspace: uuid.UUID) -> None:
    row, column, code, problem = await _only_problem(
        ctx, workspace, ["2025-06-30", "EXP-ST", "1"], ["2025-07-07", "EXP-ST", "1"]
    )
    assert (row, column, code) == (3, "Week", "future_date")
    assert "2025-07-07 is in the future" in problem


async def test_an_item_in_no_items_file_is_unknown(ctx: AppContext, workspace: uuid.UUID) -> None:
    row, column, code, problem = await _only_problem(
        ctx, workspace, ["2025-03-03", "EXP-ST", "1"], ["2025-03-03", "MUSTANG-GT", "1"]
    )
    assert (row, column, code) == (3, "SKU", "unknown_item")
    assert "'MUSTANG-GT'" in problem


async def test_an_empty_file_is_reported(ctx: AppContext, workspace: uuid.UUID) -> None:
    nothing = await run(ctx, workspace, UploadedFile("sales", "empty.csv", b""))
    blank_lines = await run(ctx, workspace, UploadedFile("sales", "blank.csv", b"\n\n ,, \n"))
    header_only = await run(ctx, workspace, csv_file("sales", [HEADER]))

    for report in (nothing, blank_lines, header_only):
        assert not report.applied
        assert codes(report) == ["empty_file"]
    assert header_only.errors[0].problem == "the file has a header row but no data rows"
    assert await count(ctx, PlannerImport, workspace) == 0


async def test_a_50_mb_file_is_refused_before_it_is_read(ctx: AppContext, workspace: uuid.UUID) -> None:
    row = b"2025-03-03,EXP-ST,1\n"
    data = b"Week,SKU,Units Sold\n" + row * (50 * 1024 * 1024 // len(row) + 1)
    assert len(data) > 50 * 1024 * 1024

    report = await run(ctx, workspace, UploadedFile("sales", "huge.csv", data), max_bytes=20 * 1024 * 1024)

    assert not report.applied
    assert [(p.row, p.code) for p in report.errors] == [(0, "file_too_large")]
    assert re.search(r"the file is 50\.0 MB; the limit is 20\.0 MB", report.errors[0].problem)
    assert report.files[0].rows == 0


def _with_saved_result(data: bytes, cell: str, value: str) -> bytes:
    """Writes the cached result Excel would have saved for a formula cell (openpyxl writes none)."""
    source, target = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(target, "w") as out:
        for entry in source.infolist():
            content = source.read(entry.filename)
            if entry.filename == "xl/worksheets/sheet1.xml":
                text = content.decode()
                text = re.sub(rf'(<c r="{cell}"[^>]*>)(<f>[^<]*</f>)(<v\s*/>|<v></v>)?', rf"\1\2<v>{value}</v>", text)
                content = text.encode()
            out.writestr(entry, content)
    return target.getvalue()


async def test_an_xlsx_formula_without_a_saved_result_is_refused(ctx: AppContext, workspace: uuid.UUID) -> None:
    rows: list[list[Any]] = [HEADER, ["2025-03-03", "EXP-ST", 2], ["2025-03-10", "EXP-ST", "=C2*2"]]

    report = await run(ctx, workspace, ITEMS, UploadedFile("sales", "formulas.xlsx", xlsx_bytes(rows)))

    assert not report.applied
    assert [(p.row, p.column, p.code) for p in report.errors] == [(3, "Units Sold", "formula_without_value")]
    assert "formulas are never run" in report.errors[0].problem
    assert await count(ctx, Sale, workspace) == 0


async def test_an_xlsx_formula_is_read_as_its_saved_result(ctx: AppContext, workspace: uuid.UUID) -> None:
    rows: list[list[Any]] = [HEADER, ["2025-03-03", "EXP-ST", 2], ["2025-03-10", "EXP-ST", "=C2*2"]]
    data = _with_saved_result(xlsx_bytes(rows), "C3", "4")

    report = await run(ctx, workspace, ITEMS, UploadedFile("sales", "saved.xlsx", data))

    assert report.applied, report.problems
    assert codes(report, "warning") == ["formula_values"]
    async with ctx.db.session() as session:
        assert sorted(await session.scalars(select(Sale.quantity))) == [2, 4]


async def test_one_week_of_history_is_imported_with_a_warning(ctx: AppContext, workspace: uuid.UUID) -> None:
    sales = csv_file(
        "sales",
        [HEADER, ["2025-03-03", "EXP-ST", "1"], ["2025-03-10", "EXP-ST", "2"], ["2025-03-10", "BRONCO-BB", "1"]],
    )

    report = await run(ctx, workspace, ITEMS, sales)

    assert report.applied
    warnings = [p for p in report.warnings if p.code == "too_short"]
    assert [(p.row, p.column) for p in warnings] == [(4, "SKU")]
    assert "too short to model — a simple method will be used" in warnings[0].problem

    later = await run(ctx, workspace, csv_file("sales", [HEADER, ["2025-03-17", "BRONCO-BB", "1"]]))

    assert [p.code for p in later.warnings] == []  # with the stored week it has two


async def test_a_bad_row_900_leaves_every_table_empty(ctx: AppContext, workspace: uuid.UUID) -> None:
    keys = ["EXP-XLT-4WD", "EXP-ST", "BRONCO-BB", "F150-XLT", "ESCAPE-ACT"]
    rows = [HEADER] + [
        [(FIRST_MONDAY + timedelta(weeks=week)).isoformat(), key, "1"] for week in range(200) for key in keys
    ]
    rows[899][2] = "-3"  # spreadsheet row 900

    report = await run(ctx, workspace, ITEMS, csv_file("sales", rows))

    assert [(p.row, p.code) for p in report.errors] == [(900, "negative_quantity")]
    assert report.files[1].rows == 1000
    for table in (PlannerItem, Sale, PlannerImport):
        assert await count(ctx, table, workspace) == 0


@pytest.mark.parametrize(
    ("data", "name"),
    [(b"\x00\x01\x02binary", "sales.bin"), (b"PK\x03\x04not a zip", "sales.xlsx"), (b"\xd0\xcf\x11\xe0old", "s.xls")],
)
async def test_a_file_that_is_no_spreadsheet_is_reported(
    ctx: AppContext, workspace: uuid.UUID, data: bytes, name: str
) -> None:
    report = await run(ctx, workspace, UploadedFile("sales", name, data))

    assert codes(report) == ["unreadable_file"]
    assert report.errors[0].problem.startswith("the file cannot be read")


async def test_dates_that_could_be_either_order_are_refused_until_told(ctx: AppContext, workspace: uuid.UUID) -> None:
    rows = [HEADER, ["03/04/2025", "EXP-ST", "1"], ["04/04/2025", "EXP-ST", "1"]]

    unsure = await run(ctx, workspace, ITEMS, csv_file("sales", rows))
    told = await run(ctx, workspace, ITEMS, csv_file("sales", rows), date_order="mdy")

    assert [(p.row, p.column, p.code) for p in unsure.errors] == [(2, "Week", "ambiguous_date")]
    assert told.applied and told.files[1].date_format == "m/d/Y"
    async with ctx.db.session() as session:
        assert sorted(map(str, await session.scalars(select(Sale.sale_date)))) == ["2025-03-04", "2025-04-04"]
