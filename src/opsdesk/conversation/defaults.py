"""The runtime's own handlers, used for every intent a solution registers no handler for."""

from __future__ import annotations

from opsdesk.conversation.answering import answer_question, knowledge_target
from opsdesk.conversation.channels import TextIssue
from opsdesk.conversation.handlers import EscalationRequest, Handler, Reply, SolutionConfig, Turn, solution_config
from opsdesk.conversation.intents import ORDER_INTENTS, Intent
from opsdesk.core.masking import mask_text

TEXT_ISSUE_REPLIES = {
    TextIssue.empty: "I didn't get any text there. What can I help you with?",
    TextIssue.too_long: (
        "That message is too long for me to read in one go. Could you send the main points in a shorter message?"
    ),
    TextIssue.emoji_only: "Thanks! Could you tell me in words what you need? For example: an order, or a question.",
    TextIssue.unsupported: (
        "I can only read text messages for now. Could you type what you need? (Photos, voice notes and files "
        "are not read here.)"
    ),
}
UNANSWERED = (
    "I'm not sure about that one, and I don't want to guess. I've passed your question to a colleague, who will "
    "get back to you."
)
UNANSWERED_QUIET = "I'm not sure about that one, and I don't want to guess. A colleague can help: please call us."
COMPLAINT = (
    "I'm sorry about this. I've passed it to our team as a complaint, and a person will contact you shortly. "
    "If you have photos or an order number, please send them here."
)
FAILED = (
    "Sorry, something went wrong on our side while handling your message. A colleague has been told and will "
    "follow up with you."
)
NO_ORDER_DESK = "I can't handle orders in this chat yet. A colleague has your message and will take care of it."


def config_of(turn: Turn) -> SolutionConfig:
    return solution_config(turn.solution)


async def _vector(turn: Turn) -> list[float]:
    if turn.embedding is not None:
        return await turn.embedding()
    (vector,) = await turn.ctx.providers.embedder().embed([turn.text])
    return list(vector)


async def knowledge(turn: Turn) -> Reply:
    """Policy and product questions: a cited answer, or an honest "not sure" handed to staff."""
    config = config_of(turn)
    async with turn.ctx.db.session() as session:
        target = await knowledge_target(session, turn.workspace_id, config, turn.ctx)
    answer = await answer_question(turn.ctx, target, turn.text, await _vector(turn), turn.emit)
    if answer.known:
        metadata = {"answer_method": answer.method, "answer_confidence": answer.confidence}
        return Reply(answer.text, citations=answer.citations, metadata=metadata, cacheable=True)
    if not config.escalate_unanswered:
        return Reply(UNANSWERED_QUIET)
    reason = f"Unanswered {turn.intent.intent.replace('_', ' ')} from the knowledge base"
    return Reply(UNANSWERED, escalate=EscalationRequest(reason=reason, level="staff"))


async def greeting(turn: Turn) -> Reply:
    return Reply(config_of(turn).greeting)


async def general(turn: Turn) -> Reply:
    """Anything else: a knowledge answer when the knowledge base knows, else what this desk can do."""
    config = config_of(turn)
    async with turn.ctx.db.session() as session:
        target = await knowledge_target(session, turn.workspace_id, config, turn.ctx)
    if target.kb is not None:
        answer = await answer_question(turn.ctx, target, turn.text, await _vector(turn), _quiet)
        if answer.known and answer.confidence >= 0.5:
            return Reply(answer.text, citations=answer.citations, metadata={"answer_method": answer.method})
    return Reply(config.help_text)


async def complaint(turn: Turn) -> Reply:
    reason = f"Customer complaint: {mask_text(turn.text[:500])}"
    request = EscalationRequest(reason=reason, level="staff", complaint=True)
    return Reply(COMPLAINT, escalate=request)


async def no_order_handler(turn: Turn) -> Reply:
    reason = f"{turn.intent.intent.replace('_', ' ')} with no order flow configured"
    return Reply(NO_ORDER_DESK, escalate=EscalationRequest(reason=reason, level="staff"))


async def _quiet(_: str) -> None:
    return None


def default_handler(intent: str) -> Handler:
    if intent in (Intent.policy_question, Intent.product_inquiry):
        return knowledge
    if intent == Intent.greeting:
        return greeting
    if intent == Intent.complaint:
        return complaint
    if intent in ORDER_INTENTS:
        return no_order_handler
    return general
