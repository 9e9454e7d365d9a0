"""What the customer's answer to "please confirm" does to a drafted order: confirm, cancel, correct, or ask again.

Only a plain yes (or, for unusual orders, an explicit CONFIRM) confirms; anything else that reads as order lines
corrects the draft's quantities; the rest is asked again. Staff decisions arrive as ``{"decision": …}``.
"""

from __future__ import annotations

import uuid
from typing import Any

from opsdesk.core.context import AppContext
from opsdesk.core.errors import Conflict
from opsdesk.orders import replies, service
from opsdesk.orders.catalog_service import parser_cache
from opsdesk.orders.models import Order
from opsdesk.orders.policy import OrderPolicy

_NOT_ASKED_ON_CHANGE = frozenset({"missing_outlet", "ambiguous_outlet", "no_items"})


async def decide(
    ctx: AppContext, policy: OrderPolicy, order: Order, answer: dict[str, Any], sender_phone: str | None
) -> dict[str, Any]:
    """The flow-state update for this answer: outcome "confirmed" or "cancelled", or a notice to ask again with."""
    decision = answer.get("decision")
    text = str(answer.get("text", ""))
    kind = replies.classify(text) if decision is None else None
    if decision == "cancel" or kind is replies.Answer.NO:
        async with ctx.db.session() as session:
            reason = str(answer.get("reason", ""))
            cancelled = await service.cancel_order(session, order.workspace_id, order.id, reason=reason)
            return {"outcome": "cancelled", "reply": replies.cancelled(cancelled)}
    explicit = (decision == "confirm" and bool(answer.get("acknowledge_anomalies"))) or kind is replies.Answer.EXPLICIT
    if decision == "confirm" or kind in (replies.Answer.YES, replies.Answer.EXPLICIT):
        if order.anomalies and not explicit and not order.anomalies_acknowledged:
            return {"outcome": "", "notice": replies.explicit_needed(order)}
        try:
            async with ctx.db.session() as session:
                await service.confirm_order(session, order.workspace_id, order.id, acknowledge_anomalies=explicit)
        except Conflict as exc:
            return {"outcome": "", "notice": f"Sorry, we could not confirm it yet: {exc.message}"}
        return {"outcome": "confirmed", "notice": ""}
    return {"outcome": "", "notice": await _maybe_change(ctx, policy, order.workspace_id, order.id, text, sender_phone)}


async def _maybe_change(
    ctx: AppContext, policy: OrderPolicy, workspace_id: uuid.UUID, order_id: uuid.UUID, text: str, phone: str | None
) -> str:
    """A reply that is neither yes nor no may correct quantities of the draft."""
    hint = "Reply YES to confirm, NO to cancel, or send the corrected items."
    async with ctx.db.session() as session:
        parser = await parser_cache(ctx.extras).parser(session, workspace_id)
        parsed = parser.parse(text, phone)
        asked = [c.question for c in parsed.clarifications if c.kind.value not in _NOT_ASKED_ON_CHANGE]
        if asked:
            return " ".join([*asked, hint])
        if not parsed.items:
            return f"Sorry, I did not get that. {hint}"
        changes = [(item.sku, item.quantity) for item in parsed.items]
        try:
            await service.change_order(session, workspace_id, order_id, changes, catalog=parser.catalog, policy=policy)
        except Conflict as exc:
            return f"Sorry, that change is not possible: {exc.message}"
    return "Updated."
