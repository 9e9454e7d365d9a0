"""Urgent orders in the operator inbox: when the workspace asks for it (``urgency.to_inbox``), an urgent order is
escalated at the configured level as soon as it is drafted (or, failing that, confirmed) — once per order."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.app.context import AppContext
from opsdesk.conversation import service as conversations
from opsdesk.conversation.escalation import create_escalation
from opsdesk.conversation.handlers import EscalationRequest
from opsdesk.conversation.models import ConversationSession, Escalation
from opsdesk.core.logging import get_logger
from opsdesk.orders.models import Order
from opsdesk.workspaces.settings.service import workspace_settings

log = get_logger(__name__)
_IN_INBOX = ("awaiting_confirmation", "confirmed")


def reason_prefix(order: Order) -> str:
    return f"Urgent order {order.number}"


async def escalate_if_urgent(
    ctx: AppContext, workspace_id: uuid.UUID, order_id: uuid.UUID, session_id: str, sender: str | None
) -> uuid.UUID | None:
    """The new inbox case for an urgent order, or None (not urgent, not wanted, or already there)."""
    urgency = (await workspace_settings(ctx, workspace_id)).urgency
    if not urgency.to_inbox:
        return None
    async with ctx.db.session() as session:
        order = await session.scalar(
            select(Order).where(Order.workspace_id == workspace_id, Order.id == order_id).with_for_update()
        )
        if order is None or not order.urgent or order.status not in _IN_INBOX:
            return None
        prefix = reason_prefix(order)
        already = await session.scalar(
            select(Escalation.id).where(Escalation.workspace_id == workspace_id, Escalation.reason.startswith(prefix))
        )
        if already is not None:
            return None
        conversation = await _conversation(session, workspace_id, session_id, sender or order.sender_phone)
        when = f"{order.delivery_date:%a %d %b}, {order.delivery_slot}" if order.delivery_date else "to be arranged"
        request = EscalationRequest(
            reason=f"{prefix} for {order.outlet_name} ({order.status.replace('_', ' ')}): delivery {when}, "
            f"total {order.currency} {order.total:,.2f}.",
            level=urgency.escalation_level,
        )
        escalation = await create_escalation(session, ctx.settings, conversation, request)
        log.info("urgent_order_escalated", order=order.number, level=escalation.level)
        return escalation.id


async def _conversation(
    session: AsyncSession, workspace_id: uuid.UUID, session_id: str, sender: str
) -> ConversationSession:
    """The chat the order came from; an order that came in over the orders API gets a conversation of its own."""
    try:
        found = await session.get(ConversationSession, uuid.UUID(session_id))
    except ValueError:
        found = None
    if found is not None and found.workspace_id == workspace_id:
        return found
    return await conversations.open_session(
        session, workspace_id, channel="chat", sender=(sender or session_id)[:128], solution="orders"
    )
