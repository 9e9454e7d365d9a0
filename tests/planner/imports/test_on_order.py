"""Units on order come in as their own file and count in the plan's stock position, never twice."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import func, select

from opsdesk.app.context import AppContext
from opsdesk.planner.imports.schemas import ImportOptions, ImportReport, UploadedFile
from opsdesk.planner.imports.service import import_files
from opsdesk.planner.models import OnOrder

ITEMS = b"sku,model_line,unit_cost,unit_price\nEXP-1,Explorer,40000,43000\n"
TODAY = ImportOptions(today=date(2026, 11, 30))


async def _import(ctx: AppContext, workspace_id: uuid.UUID, on_order: bytes) -> ImportReport:
    uploads = [
        UploadedFile(kind="items", file_name="items.csv", data=ITEMS),
        UploadedFile(kind="on_order", file_name="on_order.csv", data=on_order),
    ]
    async with ctx.db.session() as session:
        return await import_files(session, workspace_id, uploads, options=TODAY)


async def test_units_on_order_are_imported_once_with_their_expected_week(ctx: AppContext, workspace: uuid.UUID) -> None:
    data = b"SKU,ETA,Qty,PO Number\nEXP-1,2026-12-07,2,PO-1\nEXP-1,2026-12-21,1,PO-2\n"
    first = await _import(ctx, workspace, data)
    again = await _import(ctx, workspace, data)
    assert first.applied and not again.errors
    async with ctx.db.session() as session:
        rows = (await session.execute(select(OnOrder.expected_week, OnOrder.quantity, OnOrder.reference))).all()
        count = await session.scalar(select(func.count()).select_from(OnOrder))
    assert sorted(tuple(r) for r in rows) == [(date(2026, 12, 7), 2, "PO-1"), (date(2026, 12, 21), 1, "PO-2")]
    assert count == 2


async def test_a_negative_quantity_on_order_is_refused_and_nothing_is_written(
    ctx: AppContext, workspace: uuid.UUID
) -> None:
    report = await _import(ctx, workspace, b"sku,expected_week,quantity\nEXP-1,2026-12-07,-2\n")
    assert {(p.row, p.column) for p in report.errors} == {(2, "quantity")}
    async with ctx.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(OnOrder)) == 0


async def test_an_item_on_order_that_is_not_in_the_catalogue_is_refused(ctx: AppContext, workspace: uuid.UUID) -> None:
    report = await _import(ctx, workspace, b"sku,expected_week,quantity\nNOPE,2026-12-07,1\n")
    assert [(p.row, p.column, p.code) for p in report.errors] == [(2, "sku", "unknown_item")]
