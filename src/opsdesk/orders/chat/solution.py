"""The order desk as a conversation solution: its configuration and a handler per order intent.

The runtime routes order_placement, order_status, order_change and order_cancel here; while the order flow waits
for an answer (a clarification or the confirmation), the reply says so through ``expects`` and the next message
comes back to the placement handler. Policy and product questions go to the runtime's knowledge answers.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from opsdesk.app.context import AppContext
from opsdesk.conversation import (
    EscalationRequest,
    Reply,
    SolutionConfig,
    Turn,
    register_handler,
    register_solution,
)
from opsdesk.conversation import Handler as TurnHandler
from opsdesk.conversation.semantic import SubjectTerms
from opsdesk.core.text import singular
from opsdesk.orders.catalog.service import parser_cache
from opsdesk.orders.chat.handlers import (
    Handler,
    OrderReply,
    handle_order_cancel,
    handle_order_change,
    handle_order_message,
    handle_order_status,
)
from opsdesk.orders.demo import KB_NAME
from opsdesk.orders.parsing import Catalog
from opsdesk.workspaces.settings.service import workspace_settings

SOLUTION = "orders"
INTENT_EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "intent_examples.jsonl"
GREETING = (
    "Hello! I can take your order (free text or the order form), tell you where an order stands, change or "
    "cancel it before dispatch, and answer questions about our products and policies. How can I help?"
)


def catalog_subjects(catalog: Catalog) -> SubjectTerms:
    """The catalog's kinds of product (the last word of each name, and each category's) and their qualifiers (the
    other words of the names): an answer about meal trays is never served to a question about containers."""
    kinds: set[str] = set()
    qualifiers: set[str] = set()
    for product in catalog.products:
        words = [singular(word) for word in re.findall(r"(?<![a-z0-9])[a-z]{2,}", product.name.lower())]
        if words:
            kinds.add(words[-1])
            qualifiers.update(words[:-1])
        if product.category:
            kinds.add(singular(product.category.lower().split("_")[-1]))
    return SubjectTerms(frozenset(kinds), frozenset(qualifiers - kinds))


async def workspace_subjects(ctx: AppContext, workspace_id: uuid.UUID) -> SubjectTerms:
    async with ctx.db.session() as session:
        parser = await parser_cache(ctx.extras).parser(session, workspace_id)
    return catalog_subjects(parser.catalog)


async def workspace_knowledge_bases(ctx: AppContext, workspace_id: uuid.UUID) -> list[str]:
    """The knowledge bases the workspace's chat answers from (its settings; by default the demo's "order-desk")."""
    return list((await workspace_settings(ctx, workspace_id)).knowledge_bases)


def _reply(answer: OrderReply) -> Reply:
    escalation = None
    if answer.escalate:
        escalation = EscalationRequest(reason=f"Order desk: {answer.reply}", level="staff")
    return Reply(
        answer.reply,
        expects="order_placement" if answer.awaiting else None,
        escalate=escalation,
        metadata={
            "order_id": str(answer.order_id) if answer.order_id else None,
            "order_number": answer.order_number,
            "order_status": answer.order_status,
            "order_outcome": answer.outcome,
            "awaiting": answer.awaiting,
        },
    )


def _adapt(handler: Handler) -> TurnHandler:
    async def handle(turn: Turn) -> Reply:
        answer = await handler(
            turn.ctx,
            turn.workspace_id,
            str(turn.session_id),
            turn.sender_phone or turn.sender,
            turn.text,
            message_id=turn.message_key,
        )
        return _reply(answer)

    handle.__name__ = f"orders_{handler.__name__}"
    return handle


def register_order_desk() -> None:
    """Registers the "orders" solution and its four order handlers with the conversation runtime (idempotent)."""
    register_solution(
        SolutionConfig(
            name=SOLUTION,
            examples_path=INTENT_EXAMPLES,
            kb=KB_NAME,
            greeting=GREETING,
            subjects=workspace_subjects,
            knowledge_bases=workspace_knowledge_bases,
        )
    )
    register_handler(SOLUTION, "order_placement", _adapt(handle_order_message))
    register_handler(SOLUTION, "order_status", _adapt(handle_order_status))
    register_handler(SOLUTION, "order_change", _adapt(handle_order_change))
    register_handler(SOLUTION, "order_cancel", _adapt(handle_order_cancel))
