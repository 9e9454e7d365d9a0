"""The order flow through the conversation handler, with the local ledger: ask, confirm, documents, posting."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from opsdesk.orders.chat.handlers import handle_order_message
from opsdesk.orders.models import Invoice, LedgerEntryRow, Order, Product
from tests.orders.order_helpers import FORM_ORDER, FORM_TOTAL, TAMPINES_PHONE, Desk, counts


async def test_an_order_is_repeated_back_and_placed_only_after_yes(desk: Desk) -> None:
    ctx, ws = desk.ctx, desk.workspace_id

    asked = await handle_order_message(ctx, ws, "chat-1", TAMPINES_PHONE, FORM_ORDER, message_id="m1")

    assert asked.awaiting == "confirmation" and asked.order_status == "awaiting_confirmation"
    assert asked.order_number is not None and asked.order_number in asked.reply
    assert f"SGD {FORM_TOTAL}" in asked.reply and "Reply YES" in asked.reply
    assert await counts(ctx, ws) == (1, 0, 0)

    done = await handle_order_message(ctx, ws, "chat-1", TAMPINES_PHONE, "YES", message_id="m2")

    assert done.outcome == "completed" and done.order_status == "confirmed"
    assert "DO-" in done.reply and "INV-" in done.reply
    assert await counts(ctx, ws) == (1, 1, 1)
    async with ctx.db.session() as session:
        invoice = await session.scalar(select(Invoice))
        assert invoice is not None and invoice.status == "posted" and invoice.backend == "local"
        assert invoice.total == Decimal(FORM_TOTAL)
        entries = list(await session.scalars(select(LedgerEntryRow)))
        assert sum(e.debit for e in entries) == sum(e.credit for e in entries) == Decimal(FORM_TOTAL)
        stock = await session.scalar(select(Product.stock).where(Product.workspace_id == ws, Product.sku == "PB-10R"))
        assert stock == 140 - 6


async def test_no_cancels_the_draft(desk: Desk) -> None:
    ctx, ws = desk.ctx, desk.workspace_id
    await handle_order_message(ctx, ws, "chat-1", TAMPINES_PHONE, FORM_ORDER, message_id="m1")

    reply = await handle_order_message(ctx, ws, "chat-1", TAMPINES_PHONE, "no", message_id="m2")

    assert reply.outcome == "cancelled" and "cancelled" in reply.reply
    async with ctx.db.session() as session:
        order = await session.scalar(select(Order))
        assert order is not None and order.status == "cancelled"
    assert await counts(ctx, ws) == (1, 0, 0)
