"""The conversation runtime: sessions, channels, intents, cache tiers, escalation, and the turn pipeline.

Solutions plug in through `register_solution` and `register_handler` (see `handlers.py`); channels call
`opsdesk.conversation.runtime.handle_turn` (or `stream_turn`) with an `Inbound` message.
"""

from opsdesk.conversation.handlers import (
    EscalationRequest,
    Handler,
    HistoryItem,
    Reply,
    SolutionConfig,
    Turn,
    register_handler,
    register_solution,
    unregister_handler,
)
from opsdesk.conversation.intents import ALL_INTENTS, ORDER_INTENTS, STATELESS_INTENTS, Intent, IntentResult

__all__ = [
    "ALL_INTENTS",
    "ORDER_INTENTS",
    "STATELESS_INTENTS",
    "EscalationRequest",
    "Handler",
    "HistoryItem",
    "Intent",
    "IntentResult",
    "Reply",
    "SolutionConfig",
    "Turn",
    "register_handler",
    "register_solution",
    "unregister_handler",
]
