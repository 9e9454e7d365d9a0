"""Importing the planner's files: what lands in the tables, what the report says, and importing again."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from opsdesk.app.context import AppContext
from opsdesk.auth import service as auth
from opsdesk.planner.imports.schemas import UploadedFile
from opsdesk.planner.models import (
    Allocation,
    InventoryUnit,
    MarketData,
    OutcomeFeedback,
    PlannerImport,
    PlannerItem,
    Sale,
)
from tests.planner.imports.helpers import (
    codes,
    count,
    csv_file,
    csv_rows,
    fixture,
    run,
    xlsx_bytes,
)

DEALER = (
    fixture("items", "dealer_items.csv"),
    fixture("sales", "dealer_sales.csv"),
    fixture("inventory", "dealer_inventory.csv"),
    fixture("market", "market.csv"),
    fixture("allocations", "allocations.csv"),
    fixture("feedback", "feedback.csv"),
)


async def test_a_dealers_files_import_together_into_every_table(ctx: AppContext, workspace: uuid.UUID) -> None:
    report = await run(ctx, workspace, *reversed(DEALER), snapshot_date=date(2025, 6, 27))

    assert report.applied, report.problems
    assert codes(report) == []
    assert [(f.kind, f.created) for f in report.files] == [
        ("items", 5),
        ("inventory", 5),
        ("sales", 60),
        ("market", 6),
        ("allocations", 8),
        ("feedback", 12),
    ]
    counts = {table.__name__: await count(ctx, table, workspace) for table in (PlannerItem, InventoryUnit, Sale)}
    assert counts == {"PlannerItem": 5, "InventoryUnit": 5, "Sale": 60}
    assert await count(ctx, MarketData, workspace) == 6
    assert await count(ctx, Allocation, workspace) == 8
    assert await count(ctx, OutcomeFeedback, workspace) == 12
    async with ctx.db.session() as session:
        explorer = await session.scalar(select(PlannerItem).where(PlannerItem.key == "EXP-XLT-4WD"))
        assert explorer is not None
        assert (explorer.model_line, explorer.variant, explorer.options) == ("Explorer", "XLT", "4WD; tow package")
        assert (explorer.unit_cost, explorer.unit_price, explorer.lead_time_weeks) == (
            Decimal("41250.00"),
            Decimal("46900.00"),
            10,
        )
        sale = await session.scalar(
            select(Sale).where(Sale.item_id == explorer.id, Sale.sale_date == date(2025, 3, 17))
        )
        assert sale is not None and sale.grain == "week" and sale.quantity == 6
        share = await session.scalar(select(MarketData.share).where(MarketData.segment == "Midsize SUV"))
        assert share == Decimal("0.125")
        record = await session.scalar(select(PlannerImport).where(PlannerImport.kind == "sales"))
        assert record is not None and record.rows == 60 and record.created_by == "planner@acme.example"
        assert record.mapping == {
            "date": "Week",
            "item": "SKU",
            "quantity": "Units Sold",
            "price": "Sale Price",
            "gross": "GP",
        }


async def test_the_report_says_which_column_became_which_field(ctx: AppContext, workspace: uuid.UUID) -> None:
    report = await run(
        ctx,
        workspace,
        fixture("items", "dealer_items.csv"),
        fixture("inventory", "dealer_inventory.csv"),
        snapshot_date=date(2025, 6, 27),
    )

    inventory = report.files[1]
    assert {use.column: use.field for use in inventory.mapping} == {
        "VIN": "unit_id",
        "Config": "item",
        "Days in Stock": "days_on_lot",
        "Cost": "cost",
    }
    assert inventory.unknown_columns == ["Stock No"]  # VIN is the better unit id; the stock number is not read
    assert inventory.missing_columns == []
    warning = next(p for p in report.problems if p.code == "unknown_column")
    assert (warning.file_name, warning.row, warning.column, warning.severity) == (
        "dealer_inventory.csv",
        1,
        "Stock No",
        "warning",
    )
    assert report.files[0].date_format is None
    assert report.applied


async def test_sales_dates_in_day_month_order_are_detected_and_named(ctx: AppContext, workspace: uuid.UUID) -> None:
    report = await run(ctx, workspace, fixture("items", "dealer_items.csv"), fixture("sales", "dealer_sales.csv"))

    assert report.files[1].date_format == "d/m/Y"
    async with ctx.db.session() as session:
        days = set(await session.scalars(select(Sale.sale_date)))
    assert min(days) == date(2025, 3, 3) and max(days) == date(2025, 5, 19)
    assert {day.weekday() for day in days} == {0}


async def test_importing_the_same_file_again_changes_nothing_and_says_so(ctx: AppContext, workspace: uuid.UUID) -> None:
    first = await run(ctx, workspace, fixture("items", "dealer_items.csv"), fixture("sales", "dealer_sales.csv"))
    async with ctx.db.session() as session:
        before = {(s.id, s.quantity, s.import_id) for s in await session.scalars(select(Sale))}

    again = await run(ctx, workspace, fixture("items", "dealer_items.csv"), fixture("sales", "dealer_sales.csv"))

    assert [f.already_imported for f in again.files] == [True, True]
    assert [f.import_id for f in again.files] == [f.import_id for f in first.files]
    assert (again.files[1].created, again.files[1].updated, again.files[1].unchanged) == (0, 0, 60)
    assert "nothing changed" in again.message
    assert not again.applied
    async with ctx.db.session() as session:
        assert {(s.id, s.quantity, s.import_id) for s in await session.scalars(select(Sale))} == before
    assert await count(ctx, PlannerImport, workspace) == 2


async def test_a_different_file_with_the_same_rows_leaves_them_unchanged(ctx: AppContext, workspace: uuid.UUID) -> None:
    await run(ctx, workspace, fixture("items", "dealer_items.csv"), fixture("sales", "dealer_sales.csv"))
    rows = csv_rows("dealer_sales.csv")
    rows[0] = ["Sale Date", "Config", "Qty", "Price", "Gross"]  # other headers, other bytes, same sales
    rows[3][2] = str(int(rows[3][2]) + 1)  # one quantity corrected

    report = await run(ctx, workspace, csv_file("sales", rows, "sales-corrected.csv"))

    assert report.applied
    assert (report.files[0].created, report.files[0].updated, report.files[0].unchanged) == (0, 1, 59)
    assert await count(ctx, Sale, workspace) == 60


async def test_a_dry_run_reports_the_real_counts_and_writes_nothing(ctx: AppContext, workspace: uuid.UUID) -> None:
    report = await run(ctx, workspace, *DEALER[:2], dry_run=True)

    assert report.dry_run and not report.applied
    assert [(f.kind, f.created) for f in report.files] == [("items", 5), ("sales", 60)]
    assert report.message.startswith("Dry run")
    for table in (PlannerItem, Sale, PlannerImport):
        assert await count(ctx, table, workspace) == 0


async def test_csv_and_xlsx_of_the_same_rows_store_the_same_sales(ctx: AppContext, workspace: uuid.UUID) -> None:
    rows = csv_rows("dealer_sales.csv")
    xlsx = UploadedFile("sales", "dealer_sales.xlsx", xlsx_bytes(rows))
    await run(ctx, workspace, fixture("items", "dealer_items.csv"), xlsx)
    async with ctx.db.session() as session:
        from_xlsx = {
            (s.item_id, s.sale_date, s.quantity, s.price, s.gross) for s in await session.scalars(select(Sale))
        }

    report = await run(ctx, workspace, fixture("sales", "dealer_sales.csv"))

    assert (report.files[0].created, report.files[0].updated, report.files[0].unchanged) == (0, 0, 60)
    assert len(from_xlsx) == 60


async def test_excel_date_cells_and_numbers_are_read_as_they_are(ctx: AppContext, workspace: uuid.UUID) -> None:
    rows: list[list[object]] = [["SKU", "Description"], ["EXP-ST", "Explorer ST"]]
    sales: list[list[object]] = [["Date", "SKU", "Qty", "Price"]]
    sales += [[date(2025, 3, 3 + 7 * week), "EXP-ST", week + 1, 58000.5] for week in range(4)]
    report = await run(
        ctx,
        workspace,
        UploadedFile("items", "i.xlsx", xlsx_bytes(rows)),
        UploadedFile("sales", "s.xlsx", xlsx_bytes(sales)),
    )

    assert report.applied, report.problems
    assert report.files[1].date_format == "Excel"
    async with ctx.db.session() as session:
        stored = sorted((s.sale_date, s.quantity, s.price) for s in await session.scalars(select(Sale)))
    assert stored[0] == (date(2025, 3, 3), Decimal("1.000"), Decimal("58000.50"))
    assert stored[-1][0] == date(2025, 3, 24)


async def test_retail_stores_are_items_with_a_mapping_the_caller_gives(ctx: AppContext, workspace: uuid.UUID) -> None:
    stores = fixture("items", "retail_stores.csv", {"Store": "key", "Type": "model_line", "Size": ""})
    sales = fixture("sales", "retail_sales.csv", {"Store": "item", "Weekly_Sales": "quantity"})

    report = await run(ctx, workspace, stores, sales)

    assert report.applied, report.problems
    assert report.files[0].unknown_columns == []  # Size was set aside on purpose
    assert report.files[1].unknown_columns == ["IsHoliday"]
    assert report.files[1].created == 24
    async with ctx.db.session() as session:
        lines = set(await session.scalars(select(PlannerItem.model_line)))
        grains = set(await session.scalars(select(Sale.grain)))
    assert lines == {"A", "B"} and grains == {"week"}


async def test_an_items_file_updates_given_fields_and_keeps_the_rest(ctx: AppContext, workspace: uuid.UUID) -> None:
    await run(ctx, workspace, fixture("items", "dealer_items.csv"))

    report = await run(ctx, workspace, csv_file("items", [["sku", "msrp", "model"], ["exp-st", "59900", ""]]))

    assert (report.files[0].created, report.files[0].updated) == (0, 1)
    async with ctx.db.session() as session:
        item = await session.scalar(select(PlannerItem).where(PlannerItem.key == "EXP-ST"))
    assert item is not None
    assert (item.unit_price, item.model_line, item.variant) == (Decimal("59900.00"), "Explorer", "ST")


async def test_workspaces_do_not_see_each_others_items(ctx: AppContext, workspace: uuid.UUID) -> None:
    await run(ctx, workspace, fixture("items", "dealer_items.csv"))
    async with ctx.db.session() as session:
        other = (await auth.create_workspace(session, "harbour-motors")).id

    report = await run(ctx, other, fixture("sales", "dealer_sales.csv"))

    assert not report.applied
    assert set(codes(report)) == {"unknown_item"}
