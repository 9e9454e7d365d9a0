"""Running the order desk in a process: the flow's lifecycle, staff decisions that meet a waiting flow, recovery.

Staff confirm or cancel in the database first (so the API answers with the service's clear errors); a flow that
waits on that order then sees the decision and carries on (documents, invoice, posting) or ends. An order with no
waiting flow gets its documents directly. After a crash, ``recover`` finishes what was confirmed.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from opsdesk.app.context import AppContext
from opsdesk.core.errors import NotFound
from opsdesk.core.logging import get_logger
from opsdesk.db.checkpoints import open_checkpointer
from opsdesk.orders import billing, posting, repository, service
from opsdesk.orders.chat.flow import OrderFlow, thread_id
from opsdesk.orders.models import DeliveryOrder, Invoice, Order
from opsdesk.orders.profile import policy_for

log = get_logger(__name__)
_EXTRAS_KEY = "orders.flow"


async def open_order_flow(ctx: AppContext) -> OrderFlow:
    """The process's order flow: a psycopg pool on the app's database, checkpoint tables set up once."""
    existing = ctx.extras.get(_EXTRAS_KEY)
    if isinstance(existing, OrderFlow):
        return existing
    lock = ctx.extras.setdefault(_EXTRAS_KEY + ".lock", asyncio.Lock())
    async with lock:
        existing = ctx.extras.get(_EXTRAS_KEY)
        if isinstance(existing, OrderFlow):
            return existing
        pool, saver = await open_checkpointer(ctx.db.url, max_size=max(2, ctx.settings.db_pool_size), name="order flow")
        flow = OrderFlow(ctx, pool, saver)
        ctx.extras[_EXTRAS_KEY] = flow
        return flow


async def close_order_flow(ctx: AppContext) -> None:
    """Closes the flow's pool and the accounting client (call before ``ctx.close()``)."""
    flow = ctx.extras.pop(_EXTRAS_KEY, None)
    if isinstance(flow, OrderFlow):
        await flow.aclose()
    await posting.close_accounting(ctx)


async def complete_order(ctx: AppContext, order_id: uuid.UUID) -> posting.PostOutcome:
    """Delivery order, invoice and posting for a confirmed order, outside any flow (each step idempotent)."""
    now = datetime.now(UTC)
    async with ctx.db.session() as session:
        workspace_id = await session.scalar(select(Order.workspace_id).where(Order.id == order_id))
        if workspace_id is None:
            raise NotFound(f"No order {order_id}.", code="order_not_found")
        policy = await policy_for(ctx, workspace_id)
        await billing.ensure_delivery_order(session, order_id, policy, now)
    async with ctx.db.session() as session:
        invoice = await billing.ensure_invoice(session, order_id, policy, now)
        invoice_id = invoice.id
    return await posting.post_invoice(ctx, invoice_id)


async def _waiting_flow(ctx: AppContext, order: Order) -> tuple[OrderFlow, str] | None:
    """The flow and thread that wait for this order's confirmation, if any."""
    if not order.session_id or order.flow_thread_id != thread_id(order.workspace_id, order.session_id):
        return None
    flow = await open_order_flow(ctx)
    where = await flow.position(order.workspace_id, order.session_id)
    if where.order_id != order.id:  # the conversation has moved on to another order
        return None
    return (flow, order.session_id) if where.awaiting == "confirmation" or where.stalled else None


async def confirm_by_staff(
    ctx: AppContext, workspace_id: uuid.UUID, ref: str, *, acknowledge_anomalies: bool
) -> uuid.UUID:
    """Confirms an order (409 with the reason when it cannot be), then lets its flow or this call finish it."""
    async with ctx.db.session() as session:
        order = await service.confirm_order(session, workspace_id, ref, acknowledge_anomalies=acknowledge_anomalies)
    waiting = await _waiting_flow(ctx, order)
    if waiting is not None:
        flow, session_id = waiting
        async with flow.lock(thread_id(workspace_id, session_id)):
            await flow.answer(workspace_id, session_id, {"decision": "confirm", "by": "staff"})
    else:
        await complete_order(ctx, order.id)
    return order.id


async def cancel_by_staff(ctx: AppContext, workspace_id: uuid.UUID, ref: str, *, reason: str) -> uuid.UUID:
    """Cancels an order not yet dispatched; a flow waiting on it ends."""
    async with ctx.db.session() as session:
        order = await service.cancel_order(session, workspace_id, ref, reason=reason)
    waiting = await _waiting_flow(ctx, order)
    if waiting is not None:
        flow, session_id = waiting
        async with flow.lock(thread_id(workspace_id, session_id)):
            await flow.answer(workspace_id, session_id, {"decision": "cancel", "by": "staff"})
    return order.id


async def recover(ctx: AppContext, *, limit: int = 100) -> int:
    """Finishes confirmed orders a crash interrupted (flow stopped between steps, or documents missing)."""
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(Order.id, Order.workspace_id, DeliveryOrder.id, Invoice.id)
            .outerjoin(DeliveryOrder, DeliveryOrder.order_id == Order.id)
            .outerjoin(Invoice, Invoice.order_id == Order.id)
            .where(Order.status == "confirmed")
            .where(DeliveryOrder.id.is_(None) | Invoice.id.is_(None) | (Invoice.status == "pending"))
            .order_by(Order.confirmed_at)
            .limit(limit)
        )
        candidates = list(rows)
    finished = 0
    for order_id, workspace_id, delivery_id, invoice_id in candidates:
        async with ctx.db.session() as session:
            order = await repository.get_order(session, workspace_id, order_id)
        waiting = await _waiting_flow(ctx, order)
        if waiting is not None:
            flow, conversation = waiting
            async with flow.lock(thread_id(workspace_id, conversation)):
                where = await flow.position(workspace_id, conversation)
                if where.order_id != order_id:
                    continue
                if where.stalled:
                    await flow.resume(workspace_id, conversation)
                elif where.awaiting == "confirmation":  # confirmed in the database, died before the checkpoint
                    await flow.answer(workspace_id, conversation, {"decision": "confirm", "recovered": True})
            finished += 1
        elif delivery_id is None or invoice_id is None:
            await complete_order(ctx, order_id)
            finished += 1
        # A pending invoice of a finished flow is left to retry_pending_invoices and its schedule.
    if finished:
        log.info("orders_recovered", count=finished)
    return finished
