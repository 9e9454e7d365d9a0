"""Xero failing while orders are confirmed: the order stays confirmed, the invoice pending, and it is posted once
Xero recovers; rate limits are waited out or scheduled after Retry-After; a refused invoice is marked failed."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from opsdesk.orders.chat.handlers import OrderReply, handle_order_message
from opsdesk.orders.models import Invoice, Order
from opsdesk.orders.posting import close_accounting, retry_pending_invoices
from tests.fakes.xero_server import FakeXero
from tests.orders.order_helpers import FORM_ORDER, TAMPINES_PHONE, Desk, counts, open_desk, xero_settings


async def _order_and_confirm(desk: Desk) -> OrderReply:
    await handle_order_message(desk.ctx, desk.workspace_id, "chat-1", TAMPINES_PHONE, FORM_ORDER, message_id="m1")
    return await handle_order_message(desk.ctx, desk.workspace_id, "chat-1", TAMPINES_PHONE, "yes", message_id="m2")


async def _invoice(desk: Desk) -> Invoice:
    async with desk.ctx.db.session() as session:
        invoice = await session.scalar(select(Invoice).where(Invoice.workspace_id == desk.workspace_id))
    assert invoice is not None
    return invoice


async def _order_status(desk: Desk, order_id: uuid.UUID | None) -> str:
    async with desk.ctx.db.session() as session:
        order = await session.get(Order, order_id)
    assert order is not None
    return order.status


async def test_xero_500s_leave_the_invoice_pending_until_a_retry_posts_it(
    database_url: str, tmp_path: Path, fake_xero: FakeXero
) -> None:
    async with open_desk(database_url, tmp_path, **xero_settings(fake_xero)) as desk:
        fake_xero.script(["500", "500"], "invoices")  # the first posting and its one retry

        done = await _order_and_confirm(desk)

        assert done.outcome == "completed" and "being issued" in done.reply
        assert await _order_status(desk, done.order_id) == "confirmed"
        pending = await _invoice(desk)
        assert pending.status == "pending" and pending.attempts == 1 and "500" in (pending.last_error or "")
        assert fake_xero.invoices == {}
        assert await retry_pending_invoices(desk.ctx) == []  # not due yet: retried on its schedule

        [outcome] = await retry_pending_invoices(desk.ctx, force=True)

        assert outcome.status == "posted"
        posted = await _invoice(desk)
        assert posted.status == "posted" and posted.attempts == 2 and posted.last_error is None
        assert len(fake_xero.invoices_with_reference(posted.number)) == 1
        assert await retry_pending_invoices(desk.ctx, force=True) == []
        assert len(fake_xero.invoices) == 1
        assert await counts(desk.ctx, desk.workspace_id) == (1, 1, 1)


async def test_xero_timing_out_leaves_the_invoice_pending_and_it_is_posted_later(
    database_url: str, tmp_path: Path, fake_xero: FakeXero
) -> None:
    async with open_desk(database_url, tmp_path, **xero_settings(fake_xero, xero_timeout_s=0.5)) as desk:
        fake_xero.script(["delay:2", "delay:2"], "invoices")

        done = await _order_and_confirm(desk)

        assert await _order_status(desk, done.order_id) == "confirmed"
        pending = await _invoice(desk)
        assert pending.status == "pending" and "timed out" in (pending.last_error or "")

        [outcome] = await retry_pending_invoices(desk.ctx, force=True)

        assert outcome.status == "posted"
        assert len(fake_xero.invoices_with_reference(pending.number)) == 1


async def test_a_short_retry_after_is_waited_out_within_the_posting(
    database_url: str, tmp_path: Path, fake_xero: FakeXero
) -> None:
    async with open_desk(database_url, tmp_path, **xero_settings(fake_xero)) as desk:
        await handle_order_message(desk.ctx, desk.workspace_id, "chat-1", TAMPINES_PHONE, FORM_ORDER)
        fake_xero.script(["429:2"], "invoices")
        started = time.monotonic()

        await handle_order_message(desk.ctx, desk.workspace_id, "chat-1", TAMPINES_PHONE, "YES")

        assert time.monotonic() - started >= 2.0
        invoice = await _invoice(desk)
        assert invoice.status == "posted"
        finds = [r for r in fake_xero.requests if r.endpoint == "invoices" and r.headers[":method"] == "GET"]
        assert len(finds) == 2  # the refused call and one retry after Retry-After, no hammering
        assert len(fake_xero.invoices) == 1


async def test_a_long_retry_after_schedules_the_retry_no_earlier(
    database_url: str, tmp_path: Path, fake_xero: FakeXero
) -> None:
    settings = xero_settings(fake_xero, order_invoice_retry_s=1.0)  # so Retry-After, not the base delay, decides
    async with open_desk(database_url, tmp_path, **settings) as desk:
        fake_xero.script(["429:120"], "invoices")  # longer than the backend waits within one posting

        await _order_and_confirm(desk)

        pending = await _invoice(desk)
        assert pending.status == "pending" and pending.next_attempt_at is not None
        assert pending.next_attempt_at >= datetime.now(UTC) + timedelta(seconds=110)
        assert await retry_pending_invoices(desk.ctx, now=datetime.now(UTC) + timedelta(seconds=60)) == []
        await close_accounting(desk.ctx)  # the client also holds off for 120 s; a later process would not

        [outcome] = await retry_pending_invoices(desk.ctx, now=datetime.now(UTC) + timedelta(seconds=125))

        assert outcome.status == "posted"
        assert len(fake_xero.invoices) == 1


async def test_an_invoice_xero_refuses_is_failed_and_the_order_stays_confirmed(
    database_url: str, tmp_path: Path, fake_xero: FakeXero
) -> None:
    async with open_desk(database_url, tmp_path, **xero_settings(fake_xero, xero_tax_type="BOGUS")) as desk:
        done = await _order_and_confirm(desk)

        assert await _order_status(desk, done.order_id) == "confirmed"
        failed = await _invoice(desk)
        assert failed.status == "failed" and "BOGUS" in (failed.last_error or "")
        assert await retry_pending_invoices(desk.ctx, force=True) == []  # refused ones wait for a person
