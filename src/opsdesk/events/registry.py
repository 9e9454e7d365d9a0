"""Subscriptions by queue: `subscribe(["order.*"], handler, queue="billing.sync")` registers a consumer.

A queue is a consumer's identity: RabbitMQ keeps its messages while the consumer is away, and de-duplication and the
dead state are kept per queue. Patterns follow RabbitMQ's topic bindings (`*` one word, `#` any number of words), so
in-process delivery matches exactly what a topic exchange would route.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.events.schemas import Event

# A handler runs inside the transaction that records the event as processed for its queue: what it writes with the
# session commits with that record, or not at all. Raising counts a failed attempt.
Handler = Callable[[AsyncSession, Event], Awaitable[None]]

_QUEUE = re.compile(r"[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*")
_PATTERN_WORD = re.compile(r"\*|#|[a-z0-9_]+")
DEFAULT_MAX_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Subscription:
    queue: str
    patterns: tuple[str, ...]
    handler: Handler
    max_attempts: int = DEFAULT_MAX_ATTEMPTS  # failed attempts before the event goes to the dead-letter queue
    timeout_s: float = 60.0  # one attempt longer than this is a failed attempt

    def matches(self, event_type: str) -> bool:
        return any(topic_matches(pattern, event_type) for pattern in self.patterns)


_SUBSCRIPTIONS: dict[str, Subscription] = {}


def subscribe(
    event_types: Iterable[str],
    handler: Handler,
    *,
    queue: str,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    timeout_s: float = 60.0,
) -> Subscription:
    """Registers `handler` for the events whose type matches one of `event_types`, consumed through `queue`."""
    if not _QUEUE.fullmatch(queue) or len(queue) > 150:
        raise ValueError(f"Queue name {queue!r} is not dotted lower-case words of at most 150 characters.")
    if queue.endswith(".dead"):
        raise ValueError(f"Queue name {queue!r} ends in '.dead', which names dead-letter queues.")
    patterns = tuple(event_types)
    if not patterns:
        raise ValueError(f"Queue {queue}: subscribe to at least one event type.")
    for pattern in patterns:
        if not all(_PATTERN_WORD.fullmatch(word) for word in pattern.split(".")):
            raise ValueError(f"Queue {queue}: {pattern!r} is not a topic pattern (words, '*' or '#', dotted).")
    if max_attempts < 1:
        raise ValueError(f"Queue {queue}: max_attempts must be at least 1.")
    subscription = Subscription(queue, patterns, handler, max_attempts, timeout_s)
    found = _SUBSCRIPTIONS.get(queue)
    # Re-importing a module subscribes the same handler again; two handlers on one queue is a bug.
    if found is not None and _where(found.handler) != _where(handler):
        raise ValueError(f"Two handlers consume queue '{queue}'.")
    _SUBSCRIPTIONS[queue] = subscription
    return subscription


def unsubscribe(queue: str) -> None:
    _SUBSCRIPTIONS.pop(queue, None)


def subscriptions() -> list[Subscription]:
    return list(_SUBSCRIPTIONS.values())


def topic_matches(pattern: str, event_type: str) -> bool:
    """Whether a topic binding `pattern` routes `event_type`, as RabbitMQ decides it."""
    return _match(pattern.split("."), event_type.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[skip:]) for skip in range(len(words) + 1))
    if not words:
        return False
    return (head in ("*", words[0])) and _match(rest, words[1:])


def _where(handler: Handler) -> tuple[str, str]:
    return getattr(handler, "__module__", ""), getattr(handler, "__qualname__", "")
