"""The order desk's conversation handlers: placement, status, change and cancel, one customer message at a time.

Each inbound message is answered once: its id (given, or derived from the session, the text and the flow's
position) is recorded with the reply, so a repeated delivery of the same message gets the same reply and creates
nothing. Turns of one conversation run one at a time in this process.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.app.context import AppContext
from opsdesk.core.errors import Conflict, NotFound
from opsdesk.core.logging import get_logger
from opsdesk.core.masking import mask_text
from opsdesk.orders import repository, service
from opsdesk.orders.catalog.service import parser_cache
from opsdesk.orders.chat import replies
from opsdesk.orders.chat.flow import FlowResult, OrderFlow, thread_id
from opsdesk.orders.chat.runtime import open_order_flow
from opsdesk.orders.chat.urgency import escalate_if_urgent
from opsdesk.orders.models import DeliveryOrder, InboundMessage, Invoice, Order
from opsdesk.orders.profile import policy_for

log = get_logger(__name__)
_REFERENCE = re.compile(r"\b(ORD|DO|INV)-\d{8}-\d{5}\b", re.IGNORECASE)
_STALE_CLAIM = timedelta(minutes=2)
_DUPLICATE_WINDOW = timedelta(hours=12)  # the same order text again within this time is taken as a resend
MAX_TEXT = 20_000


@dataclass(frozen=True, slots=True)
class OrderReply:
    """What to answer the customer, and what happened."""

    reply: str
    outcome: str
    order_id: uuid.UUID | None = None
    order_number: str | None = None
    order_status: str | None = None
    awaiting: str | None = None
    duplicate: bool = False
    escalate: bool = False

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["order_id"] = str(self.order_id) if self.order_id else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OrderReply:
        order_id = uuid.UUID(data["order_id"]) if data.get("order_id") else None
        return cls(**{**data, "order_id": order_id})


Handler = Callable[..., Awaitable[OrderReply]]


# ------------------------------------------------------------------------------------------- receipts


def _clean(value: str | None, limit: int) -> str:
    """Text as it may be stored: no NUL characters, at most ``limit`` characters."""
    return (value or "").replace("\x00", "")[:limit]


@dataclass(frozen=True, slots=True)
class _Message:
    """One customer message, cleaned as it may be stored."""

    workspace_id: uuid.UUID
    session_id: str
    sender_phone: str | None
    text: str
    message_id: str | None

    @classmethod
    def clean(
        cls, workspace_id: uuid.UUID, session_id: str, sender_phone: str | None, text: str, message_id: str | None
    ) -> _Message:
        phone, key = _clean(sender_phone, 40) or None, _clean(message_id, 200) or None
        return cls(workspace_id, _clean(session_id, 200), phone, _clean(text, MAX_TEXT), key)

    def key(self, position: str) -> str:
        """The message's id, else one derived from the session, the text and the flow's ``position``."""
        return self.message_id or _derived_id(self.session_id, self.text, position)


def _derived_id(session_id: str, text: str, position: str) -> str:
    digest = hashlib.sha256("\x1f".join((session_id, " ".join(text.split()).lower(), position)).encode()).hexdigest()
    return f"derived:{digest[:40]}"


async def _claim(
    ctx: AppContext, workspace_id: uuid.UUID, message_id: str, session_id: str, *, exclusive: bool = False
) -> OrderReply | None:
    """None when this message is new (and now claimed); else the reply it already got.

    ``exclusive``: the caller holds the conversation's lock (every process honours it), so no other turn of this
    conversation is running and a claim still "processing" was left by a process that died: it is taken over at
    once instead of answering "still working" until it is two minutes old.
    """
    async with ctx.db.session() as session:
        statement = insert(InboundMessage).values(
            workspace_id=workspace_id, message_id=message_id, session_id=session_id, status="processing"
        )
        claimed = await session.scalar(statement.on_conflict_do_nothing().returning(InboundMessage.message_id))
        if claimed is not None:
            return None
        row = await session.get(InboundMessage, (workspace_id, message_id), with_for_update=True)
        assert row is not None
        if row.status == "done" and row.reply:
            return replace(OrderReply.from_json(row.reply), duplicate=True)
        if exclusive or row.created_at < datetime.now(UTC) - _STALE_CLAIM:  # its process died; the flow is idempotent
            row.created_at = datetime.now(UTC)
            return None
        return OrderReply(replies.still_working(), "processing", duplicate=True)


async def _finish(ctx: AppContext, workspace_id: uuid.UUID, message_id: str, reply: OrderReply) -> None:
    async with ctx.db.session() as session:
        row = await session.get(InboundMessage, (workspace_id, message_id))
        if row is not None:
            row.status, row.reply = "done", reply.to_json()


async def _release(ctx: AppContext, workspace_id: uuid.UUID, message_id: str) -> None:
    async with ctx.db.session() as session:
        await session.execute(
            delete(InboundMessage).where(
                InboundMessage.workspace_id == workspace_id, InboundMessage.message_id == message_id
            )
        )


async def _once(
    ctx: AppContext,
    message: _Message,
    message_id: str,
    turn: Callable[[], Awaitable[OrderReply]],
    *,
    exclusive: bool = False,
) -> OrderReply:
    """Runs ``turn`` once per ``message_id``: a repeated delivery gets the reply recorded the first time."""
    workspace_id, session_id = message.workspace_id, message.session_id
    earlier = await _claim(ctx, workspace_id, message_id, session_id, exclusive=exclusive)
    if earlier is not None:
        log.info("order_message_repeated", session=session_id, message_id=message_id)
        return earlier
    try:
        reply = await turn()
    except BaseException:
        await _release(ctx, workspace_id, message_id)
        raise
    await _finish(ctx, workspace_id, message_id, reply)
    return reply


# ------------------------------------------------------------------------------------------- handlers


async def _with_order(ctx: AppContext, result: FlowResult, prefix: str = "") -> OrderReply:
    reply = f"{prefix}\n\n{result.reply}".strip() if prefix else result.reply
    handed_over = result.outcome == "handed_over"  # staff take over, with the draft in the reply
    if result.order_id is None:
        return OrderReply(reply, result.outcome, awaiting=result.awaiting, escalate=handed_over)
    async with ctx.db.session() as session:
        order = await session.get(Order, result.order_id)
    return OrderReply(
        reply,
        result.outcome,
        order_id=result.order_id,
        order_number=order.number if order else None,
        order_status=order.status if order else None,
        awaiting=result.awaiting,
        escalate=handed_over,
    )


class _Intent:
    """One of the desk's intent handlers: cleans the customer message it is given and passes it on to ``turn``."""

    __name__: str

    def __init__(self, turn: Callable[[AppContext, _Message], Awaitable[OrderReply]]) -> None:
        self._turn = turn
        self.__name__, self.__doc__ = turn.__name__, turn.__doc__

    async def __call__(
        self,
        ctx: AppContext,
        workspace_id: uuid.UUID,
        session_id: str,
        sender_phone: str | None,
        text: str,
        *,
        message_id: str | None = None,
    ) -> OrderReply:
        return await self._turn(ctx, _Message.clean(workspace_id, session_id, sender_phone, text, message_id))


@asynccontextmanager
async def _locked_flow(ctx: AppContext, message: _Message) -> AsyncIterator[OrderFlow]:
    """The order flow, with the other turns of the message's conversation held back until the block ends."""
    flow = await open_order_flow(ctx)
    async with flow.lock(thread_id(message.workspace_id, message.session_id)):
        yield flow


async def _settle_stalled(flow: OrderFlow, workspace_id: uuid.UUID, session_id: str) -> str:
    """Finishes a run a crash interrupted between steps; returns what it would have said."""
    if not (await flow.position(workspace_id, session_id)).stalled:
        return ""
    result = await flow.resume(workspace_id, session_id)
    return result.reply


@_Intent
async def handle_order_message(ctx: AppContext, message: _Message) -> OrderReply:
    """An order message, or the answer to the desk's last question (clarification or confirmation)."""
    async with _locked_flow(ctx, message) as flow:
        return await _placement(ctx, flow, message)


async def _placement(ctx: AppContext, flow: OrderFlow, message: _Message) -> OrderReply:
    workspace_id, session_id, text = message.workspace_id, message.session_id, message.text
    earlier = await _settle_stalled(flow, workspace_id, session_id)
    where = await flow.position(workspace_id, session_id)
    waiting = where.awaiting
    key = message.key(where.checkpoint_id if waiting else "")
    log.info("order_message", session=session_id, waiting=waiting, text=mask_text(text[:200]))

    async def turn() -> OrderReply:
        if waiting:
            result = await flow.answer(workspace_id, session_id, {"text": text, "message_id": key})
            if result.queued and result.awaiting is None:
                # A new order form sent while a draft waited: its turn comes once that draft is settled.
                phone, form = message.sender_phone, result.queued
                following = await flow.start(workspace_id, session_id, f"{key}:next", phone, form)
                result = replace(following, reply=f"{result.reply}\n\n{following.reply}".strip())
        elif replies.classify(text) is not replies.Answer.OTHER:
            # Often a retried YES whose first delivery was cut off by a crash after the order moved on: say where
            # that order stands rather than that nothing waits.
            settled = await _recently_settled(ctx, workspace_id, session_id)
            if settled is not None:
                return await _with_order(ctx, settled, earlier)
            result = FlowResult(replies.nothing_pending(), "nothing_pending")
        elif (same := await _recent_same_order(ctx, workspace_id, session_id, text)) is not None:
            return OrderReply(
                replies.already_ordered(same), "duplicate_order", same.id, same.number, same.status, None, True
            )
        else:
            result = await flow.start(workspace_id, session_id, key, message.sender_phone, text)
        if result.order_id is not None:
            await escalate_if_urgent(ctx, workspace_id, result.order_id, session_id, message.sender_phone)
        return await _with_order(ctx, result, earlier)

    return await _once(ctx, message, key, turn, exclusive=True)


async def _recently_settled(ctx: AppContext, workspace_id: uuid.UUID, session_id: str) -> FlowResult | None:
    """Where this conversation's latest order stands, when it was confirmed or cancelled in the last 12 hours."""
    async with ctx.db.session() as session:
        order = await session.scalar(
            select(Order)
            .where(Order.workspace_id == workspace_id, Order.session_id == session_id)
            .where(Order.updated_at > datetime.now(UTC) - _DUPLICATE_WINDOW)
            .order_by(Order.created_at.desc())
            .limit(1)
        )
        if order is None or order.status in ("draft", "awaiting_confirmation"):
            return None
        delivery = await session.scalar(select(DeliveryOrder).where(DeliveryOrder.order_id == order.id))
    if order.status == "cancelled":
        state = f"Order {order.number} is cancelled, so there is nothing to confirm."
    elif delivery is None:
        state = f"Order {order.number} is {order.status}; its delivery order is being prepared."
    else:
        day = f"{delivery.delivery_date:%a %d %b %Y}" + (f", {delivery.slot}" if delivery.slot else "")
        state = f"Order {order.number} is {order.status}; delivery order {delivery.number} on {day}."
    return FlowResult(state, "nothing_pending", order_id=order.id)


async def _recent_same_order(ctx: AppContext, workspace_id: uuid.UUID, session_id: str, text: str) -> Order | None:
    """An order this conversation placed recently from exactly this text (a message sent twice, new id or not)."""
    async with ctx.db.session() as session:
        found: Order | None = await session.scalar(
            select(Order)
            .where(Order.workspace_id == workspace_id, Order.session_id == session_id)
            .where(Order.message_text == text.strip(), Order.status != "cancelled")
            .where(Order.created_at > datetime.now(UTC) - _DUPLICATE_WINDOW)
            .order_by(Order.created_at.desc())
            .limit(1)
        )
    return found


async def _target(session: AsyncSession, ctx: AppContext, message: _Message) -> Order | list[Order]:
    """The order a status/change/cancel message is about: named by number, else the sender's open orders.

    A sender only reaches orders of the outlet their phone is registered to, or orders placed in this conversation;
    any other number is "not found" (never another outlet's order).
    """
    workspace_id, session_id = message.workspace_id, message.session_id
    parser = await parser_cache(ctx.extras).parser(session, workspace_id)
    outlet = parser.index.outlet_by_phone(message.sender_phone)
    match = _REFERENCE.search(message.text)
    if match:
        reference = match.group(0).upper()
        order_id: uuid.UUID | None = None
        if not reference.startswith("ORD"):
            table: type[DeliveryOrder] | type[Invoice] = DeliveryOrder if reference.startswith("DO") else Invoice
            order_id = await session.scalar(
                select(table.order_id).where(table.workspace_id == workspace_id, table.number == reference)
            )
        try:
            order = await repository.get_order(session, workspace_id, order_id or reference)
        except NotFound:
            order = None
        if order is None or not (order.session_id == session_id or (outlet and order.outlet_code == outlet.code)):
            raise NotFound(f"I could not find order {reference} for you. Please check the number.", code="not_found")
        return order
    if outlet is None:
        return list(await repository.open_orders_of_session(session, workspace_id, session_id))
    return await repository.open_orders_of_outlet(session, workspace_id, outlet.code)


async def _one_target(session: AsyncSession, ctx: AppContext, message: _Message, action: str) -> Order | OrderReply:
    """The one order a change or cancel message is about; else the reply that asks which (or finds none)."""
    try:
        found = await _target(session, ctx, message)
    except NotFound as exc:
        return OrderReply(exc.message, "not_found")
    if not isinstance(found, list):
        return found
    if len(found) != 1:
        return _which(found, action)
    return found[0]


def _which(orders: list[Order], action: str) -> OrderReply:
    if not orders:
        return OrderReply(
            f"I could not find an open order to {action}. Please send the order number (ORD-…).", "not_found"
        )
    numbers = ", ".join(order.number for order in orders[:5])
    return OrderReply(f"Which order would you like to {action}: {numbers}? Please send its number.", "asked")


@_Intent
async def handle_order_status(ctx: AppContext, message: _Message) -> OrderReply:
    """Where the sender's orders (or the one named) stand."""
    async with ctx.db.session() as session:
        try:
            found = await _target(session, ctx, message)
        except NotFound as exc:
            return OrderReply(exc.message, "not_found")
        orders = found if isinstance(found, list) else [found]
        if not orders:
            return OrderReply("I could not find any open orders. Please send the order number (ORD-…).", "not_found")
        lines = []
        for order in orders[:5]:
            delivery = await session.scalar(select(DeliveryOrder.number).where(DeliveryOrder.order_id == order.id))
            lines.append(replies.status_line(order, delivery))
    first = orders[0]
    return OrderReply("\n".join(lines), "status", first.id, first.number, first.status)


@_Intent
async def handle_order_cancel(ctx: AppContext, message: _Message) -> OrderReply:
    """Cancels the order being discussed, or the one named, unless it has been dispatched."""
    workspace_id, session_id = message.workspace_id, message.session_id
    async with _locked_flow(ctx, message) as flow:
        where = await flow.position(workspace_id, session_id)
        if where.awaiting and not _REFERENCE.search(message.text):

            async def answer() -> OrderReply:
                return await _with_order(ctx, await flow.answer(workspace_id, session_id, {"decision": "cancel"}))

            return await _once(ctx, message, message.key(where.checkpoint_id), answer, exclusive=True)
    return await _once(ctx, message, message.key("cancel"), lambda: _cancel(ctx, message))


async def _cancel(ctx: AppContext, message: _Message) -> OrderReply:
    async with ctx.db.session() as session:
        found = await _one_target(session, ctx, message, "cancel")
        if isinstance(found, OrderReply):
            return found
        try:
            order = await service.cancel_order(
                session, message.workspace_id, found.id, reason="cancelled by the customer"
            )
        except Conflict as exc:
            return OrderReply(exc.message, "refused", found.id, found.number, found.status)
        return OrderReply(replies.cancelled(order), "cancelled", order.id, order.number, order.status)


@_Intent
async def handle_order_change(ctx: AppContext, message: _Message) -> OrderReply:
    """Sets new quantities on the order being discussed or named, until it is dispatched."""
    async with _locked_flow(ctx, message) as flow:
        if (await flow.position(message.workspace_id, message.session_id)).awaiting:
            return await _placement(ctx, flow, message)
    return await _once(ctx, message, message.key("change"), lambda: _change(ctx, message))


async def _change(ctx: AppContext, message: _Message) -> OrderReply:
    policy = await policy_for(ctx, message.workspace_id)
    async with ctx.db.session() as session:
        found = await _one_target(session, ctx, message, "change")
        if isinstance(found, OrderReply):
            return found
        parser = await parser_cache(ctx.extras).parser(session, message.workspace_id)
        ordered = [line.sku for line in await repository.lines_of(session, found.id)]
        parsed = parser.parse(_REFERENCE.sub(" ", message.text), message.sender_phone, replying_to=ordered)
        if not parsed.changes:
            return OrderReply('What should the new quantities be? For example: 12" Regular Box: 5 bundles', "asked")
        changes = parsed.changes
        try:
            order = await service.change_order(
                session, message.workspace_id, found.id, changes, catalog=parser.catalog, policy=policy
            )
        except service.AnomalyConfirmationRequired as exc:
            reply = f"That change looks unusual ({exc.message}) A colleague will confirm it with you shortly."
            return OrderReply(reply, "escalated", found.id, found.number, found.status, escalate=True)
        except Conflict as exc:
            return OrderReply(exc.message, "refused", found.id, found.number, found.status)
        lines = await repository.lines_of(session, order.id)
        summary = f"Order {order.number} is updated:\n{replies.order_lines(order, lines)}\n"
        summary += replies.totals(order, policy.tax_label)
    return OrderReply(summary, "changed", order.id, order.number, order.status)


ORDER_HANDLERS: dict[str, Handler] = {
    "order_placement": handle_order_message,
    "order_status": handle_order_status,
    "order_change": handle_order_change,
    "order_cancel": handle_order_cancel,
}
