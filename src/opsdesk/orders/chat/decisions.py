"""What the customer's answer to "please confirm" does to a drafted order: confirm, cancel, correct, or ask again.

Only a plain yes (or, for unusual orders, an explicit CONFIRM) confirms; anything else that reads as order lines
corrects the draft's quantities; the rest is asked again. Staff decisions arrive as ``{"decision": …}``.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from opsdesk.app.context import AppContext
from opsdesk.core.errors import Conflict
from opsdesk.orders import repository, service
from opsdesk.orders.catalog.service import parser_cache
from opsdesk.orders.chat import replies
from opsdesk.orders.models import Order
from opsdesk.orders.parsing import OutletSource, ParsedOrder
from opsdesk.orders.parsing.signals import DraftRelation, draft_relation
from opsdesk.orders.policy import OrderPolicy

_NOT_ASKED_ON_CHANGE = frozenset({"missing_outlet", "ambiguous_outlet", "no_items"})


_REPLACE = re.compile(
    r"\b(?:replace[sd]?|replacement|instead|new\s+one|latest|use\s+(?:the\s+)?new|only\s+the\s+new)\b|^\s*1\s*$"
)
_SECOND = re.compile(r"\b(?:second|both|separate|another|additional|keep\s+both|two\s+orders|2\s+orders)\b|^\s*2\s*$")


async def decide(
    ctx: AppContext,
    policy: OrderPolicy,
    order: Order,
    answer: dict[str, Any],
    sender_phone: str | None,
    waiting_form: str = "",
) -> dict[str, Any]:
    """The flow-state update for this answer: outcome "confirmed" or "cancelled", or a notice to ask again with.

    ``waiting_form`` is a new order form the customer sent while this draft waited; they were asked whether it
    replaces the draft or is a second order. It comes back as ``queued_text``, started once this run has ended.
    """
    decision = answer.get("decision")
    text = str(answer.get("text", ""))
    if waiting_form and decision is None:
        settled = await _replace_or_second(ctx, order, text, waiting_form)
        if settled is not None:
            return settled
    kind = replies.classify(text) if decision is None else None
    if decision == "cancel" or kind is replies.Answer.NO:
        async with ctx.db.session() as session:
            reason = str(answer.get("reason", ""))
            cancelled = await service.cancel_order(session, order.workspace_id, order.id, reason=reason)
            return {"outcome": "cancelled", "reply": replies.cancelled(cancelled), **_queue(waiting_form)}
    explicit = (decision == "confirm" and bool(answer.get("acknowledge_anomalies"))) or kind is replies.Answer.EXPLICIT
    if decision == "confirm" or kind in (replies.Answer.YES, replies.Answer.EXPLICIT):
        if order.anomalies and not explicit and not order.anomalies_acknowledged:
            return {"outcome": "", "notice": replies.explicit_needed(order)}
        try:
            async with ctx.db.session() as session:
                await service.confirm_order(session, order.workspace_id, order.id, acknowledge_anomalies=explicit)
        except Conflict as exc:
            return {"outcome": "", "notice": f"Sorry, we could not confirm it yet: {exc.message}"}
        return {"outcome": "confirmed", "notice": "", **_queue(waiting_form)}
    if decision is None and _is_new_form(ctx, order, text, sender_phone, await _parsed(ctx, order, text, sender_phone)):
        return {"outcome": "", "notice": replies.replace_or_second(order), "waiting_form": text}
    return {"outcome": "", "notice": await _maybe_change(ctx, policy, order.workspace_id, order.id, text, sender_phone)}


def _queue(form: str) -> dict[str, Any]:
    return {"queued_text": form, "waiting_form": ""} if form else {}


async def _replace_or_second(ctx: AppContext, order: Order, text: str, form: str) -> dict[str, Any] | None:
    """The answer to "does the new form replace the draft, or is it a second order?"; None when it is neither."""
    lower = text.lower()
    if _REPLACE.search(lower):
        async with ctx.db.session() as session:
            reason = "replaced by a new order form"
            cancelled = await service.cancel_order(session, order.workspace_id, order.id, reason=reason)
        return {"outcome": "cancelled", "reply": replies.replaced(cancelled), **_queue(form)}
    if _SECOND.search(lower):
        return {"outcome": "", "notice": replies.second_order_after(order), **_queue(form)}
    return None


async def _parsed(ctx: AppContext, order: Order, text: str, phone: str | None) -> ParsedOrder:
    async with ctx.db.session() as session:
        parser = await parser_cache(ctx.extras).parser(session, order.workspace_id)
    return parser.parse(text, phone)


def _is_new_form(ctx: AppContext, order: Order, text: str, phone: str | None, parsed: ParsedOrder) -> bool:
    """A message with order lines that reads as a new order form, not as a correction of this draft."""
    if not parsed.items:
        return False
    named = parsed.outlet_code if parsed.outlet and parsed.outlet.source is not OutletSource.PHONE else None
    relation = draft_relation(text, items=len(parsed.items), outlet_named=named, draft_outlet=order.outlet_code)
    return relation is not DraftRelation.CORRECTION


async def _maybe_change(
    ctx: AppContext, policy: OrderPolicy, workspace_id: uuid.UUID, order_id: uuid.UUID, text: str, phone: str | None
) -> str:
    """A reply that is neither yes nor no may correct quantities of the draft."""
    hint = "Reply YES to confirm, NO to cancel, or send the corrected items."
    async with ctx.db.session() as session:
        parser = await parser_cache(ctx.extras).parser(session, workspace_id)
        ordered = [line.sku for line in await repository.lines_of(session, order_id)]
        parsed = parser.parse(text, phone, replying_to=ordered)  # "YES but lid make it 6": the draft's lid
        asked = [c.question for c in parsed.clarifications if c.kind.value not in _NOT_ASKED_ON_CHANGE]
        if asked:
            return " ".join([*asked, hint])
        if not parsed.changes:
            return f"Sorry, I did not get that. {hint}"
        changes = parsed.changes  # "no need the liners already" takes a line out of the draft (quantity 0)
        try:
            await service.change_order(session, workspace_id, order_id, changes, catalog=parser.catalog, policy=policy)
        except Conflict as exc:
            return f"Sorry, that change is not possible: {exc.message}"
    return "Updated."
