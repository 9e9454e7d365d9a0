"""How a solution plugs into the conversation runtime: its configuration and a handler per intent.

    register_solution(SolutionConfig(name="orders", kb="order-desk", examples_path=EXAMPLES))
    register_handler("orders", "order_placement", handle_placement)

A handler gets a `Turn` (who, what, the intent, the session state, recent history) and returns a `Reply` (the text,
optionally a new state, a question it now waits on, an escalation). Intents without a registered handler get the
runtime's defaults: greeting, general query, complaint (escalates), and knowledge answers for policy and product
questions.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from opsdesk.app.context import AppContext
from opsdesk.conversation.intents import ALL_INTENTS, STATELESS_INTENTS, IntentResult
from opsdesk.conversation.semantic import SubjectTerms
from opsdesk.core.errors import InvalidInput

DEFAULT_GREETING = (
    "Hello! I can take your orders, tell you where an order stands, and answer questions about our products "
    "and policies. How can I help?"
)
DEFAULT_HELP = (
    "I can help with orders (place, check, change or cancel one) and with questions about our products, "
    "delivery and payment. What would you like to do?"
)


@dataclass(frozen=True)
class SolutionConfig:
    """What the runtime needs to know about a solution."""

    name: str
    examples_path: Path  # JSON lines of {"text", "intent"}: trains the offline intent classifier
    kb: str | None = None  # the knowledge base (name or id) that answers policy and product questions
    stateless_intents: frozenset[str] = STATELESS_INTENTS  # answered from knowledge; the only ones cached (L1, L2)
    greeting: str = DEFAULT_GREETING
    help_text: str = DEFAULT_HELP
    escalate_unanswered: bool = True  # a question the knowledge base cannot answer goes to staff
    # What the workspace's questions can be about (e.g. its catalog's kinds of product); L2 serves an answer only to a
    # question about the same things (semantic.SubjectTerms). None: no such check.
    subjects: Callable[[AppContext, uuid.UUID], Awaitable[SubjectTerms]] | None = None
    # The workspace's own choice of knowledge bases (names or ids), read per message; None: always `kb`.
    knowledge_bases: Callable[[AppContext, uuid.UUID], Awaitable[Sequence[str]]] | None = None


@dataclass(frozen=True)
class HistoryItem:
    direction: str  # in | out
    text: str
    intent: str | None


@dataclass(frozen=True)
class EscalationRequest:
    """Ask a person to take over. The level is raised to what `amount` needs (see the money limits)."""

    reason: str
    level: str = "staff"
    complaint: bool = False
    amount: Decimal | None = None


async def _no_stream(_: str) -> None:
    return None


@dataclass(frozen=True)
class Turn:
    """One inbound message as a handler sees it."""

    ctx: AppContext
    workspace_id: uuid.UUID
    session_id: uuid.UUID
    channel: str  # chat | whatsapp | voice
    solution: str
    sender: str  # the channel's sender id (a phone number on WhatsApp)
    sender_phone: str | None
    text: str
    message_id: uuid.UUID  # the stored inbound message
    message_key: str  # stable across redeliveries: the channel's message id, else ours; use it for idempotency
    intent: IntentResult
    state: Mapping[str, Any]  # the solution's state of this session (return a new one in `Reply.state`)
    history: tuple[HistoryItem, ...] = ()  # recent messages, oldest first, this one excluded
    emit: Callable[[str], Awaitable[None]] = _no_stream  # stream a piece of the reply (SSE); optional
    embedding: Callable[[], Awaitable[list[float]]] | None = None  # the text's embedding, computed at most once


@dataclass
class Reply:
    """What a handler answers."""

    text: str
    state: dict[str, Any] | None = None  # replaces the session's solution state; None keeps it
    expects: str | None = None  # the intent whose handler gets the next message (the reply asked a question)
    escalate: EscalationRequest | None = None
    metadata: dict[str, Any] = field(default_factory=dict)  # stored with the reply and returned to API callers
    citations: list[dict[str, Any]] = field(default_factory=list)
    cacheable: bool = False  # may L1/L2 serve this reply again (only ever for the solution's stateless intents)


Handler = Callable[[Turn], Awaitable[Reply]]

_solutions: dict[str, SolutionConfig] = {}
_handlers: dict[tuple[str, str], Handler] = {}


def register_solution(config: SolutionConfig) -> None:
    """Makes a solution known to the runtime (again: replaces its configuration)."""
    _solutions[config.name] = config


def register_handler(solution: str, intent: str, handler: Handler) -> None:
    """Routes `intent` of `solution` to `handler` (replacing the default or an earlier handler)."""
    if intent not in ALL_INTENTS:
        raise ValueError(f"Unknown intent {intent!r}; valid: {', '.join(ALL_INTENTS)}")
    _handlers[(solution, intent)] = handler


def unregister_handler(solution: str, intent: str) -> None:
    _handlers.pop((solution, intent), None)


def solution_config(name: str) -> SolutionConfig:
    """The registered configuration, or a 400 naming the registered solutions."""
    config = _solutions.get(name)
    if config is None:
        known = ", ".join(sorted(_solutions)) or "none"
        raise InvalidInput(f"Unknown solution {name!r}; registered: {known}.", code="unknown_solution")
    return config


def handler_for(solution: str, intent: str) -> Handler | None:
    return _handlers.get((solution, intent))
