"""Publishing into the outbox, claiming it for the relay, and consuming with de-duplication per queue."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from prometheus_client import Counter
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core import telemetry
from opsdesk.core.logging import get_logger
from opsdesk.db.engine import Database
from opsdesk.events.models import EventConsumption, OutboxEvent
from opsdesk.events.registry import Subscription
from opsdesk.events.schemas import Event, check_key, check_type, to_json_payload

_log = get_logger(__name__)
MAX_ERROR_LENGTH = 2000
RELAY_LAG_LIMIT = timedelta(seconds=30)
# Relays LISTEN here; a publish NOTIFYs it, which PostgreSQL delivers at commit (once per transaction), so a relay
# wakes as soon as an event exists instead of at its next poll.
NOTIFY_CHANNEL = "opsdesk_events"
_NOTIFY = text(f"NOTIFY {NOTIFY_CHANNEL}")

Outcome = Literal["processed", "duplicate", "failed", "dead"]
CONSUMED = Counter(
    "opsdesk_events_consumed_total",
    "Deliveries to consumer queues: processed, duplicate, failed or dead.",
    ["queue", "outcome"],
)


@dataclass(frozen=True, slots=True)
class Consumed:
    """What one delivery to a queue came to, and how many attempts the queue has made at this event."""

    outcome: Outcome
    attempts: int


async def publish(
    session: AsyncSession,
    event_type: str,
    payload: dict[str, Any],
    *,
    workspace_id: uuid.UUID | None = None,
    key: str | None = None,
    occurred_at: datetime | None = None,
) -> uuid.UUID:
    """Writes an event into the outbox in the caller's transaction: it exists if and only if that transaction commits.

    `key` names the entity the event is about (`order:<id>`): events of one key are delivered in publishing order.
    The current span's trace context goes with it, so the handlers' spans join the publisher's trace.
    """
    row = OutboxEvent(
        event_type=check_type(event_type),
        key=check_key(key),
        payload=to_json_payload(payload),
        workspace_id=workspace_id,
        occurred_at=occurred_at or datetime.now(UTC),
        trace_context=telemetry.carrier(),
    )
    session.add(row)
    await session.flush()  # the sequence is taken now, so events of one transaction keep the order they were published
    await session.execute(_NOTIFY)
    return row.id


def to_event(row: OutboxEvent) -> Event:
    return Event(
        row.id,
        row.event_type,
        row.occurred_at,
        dict(row.payload),
        row.workspace_id,
        row.key,
        dict(row.trace_context or {}),
    )


# One relay at a time hands events over (a transaction-level advisory lock; the others wait for their next poll), so a
# batch can carry many events of one key in order. The claim takes unsent, due events oldest first, except those with
# an older event of their key that waits for a retry (an in-process handler failed it): each key stays in order.
# SKIP LOCKED keeps a relay that lost the lock mid-way (a dead connection) from waiting on rows it cannot have.
_RELAY_LOCK = text("SELECT pg_try_advisory_xact_lock(:namespace, 1)")
_NAMESPACE = 0x6F70_6576  # the first key of the two-int advisory lock form, apart from db.locks' names
_CLAIM = text(
    """
    SELECT e.id FROM event_outbox e
    WHERE e.published_at IS NULL AND e.next_attempt_at <= :now
      AND NOT (e.key IS NOT NULL AND EXISTS (
          SELECT 1 FROM event_outbox p
          WHERE p.key = e.key AND p.published_at IS NULL AND p.seq < e.seq AND p.next_attempt_at > :now))
    ORDER BY e.seq
    LIMIT :limit
    FOR UPDATE OF e SKIP LOCKED
    """
)


async def claim(session: AsyncSession, *, limit: int, now: datetime | None = None) -> list[OutboxEvent]:
    """Locks up to `limit` due events for this transaction, in publishing order; none while another relay works."""
    if not await session.scalar(_RELAY_LOCK, {"namespace": _NAMESPACE}):
        return []
    ids = list(await session.scalars(_CLAIM, {"now": now or datetime.now(UTC), "limit": limit}))
    if not ids:
        return []
    rows = await session.scalars(select(OutboxEvent).where(OutboxEvent.id.in_(ids)).order_by(OutboxEvent.seq))
    return list(rows)


def mark_published(row: OutboxEvent, now: datetime | None = None) -> None:
    row.attempts += 1
    row.published_at = now or datetime.now(UTC)
    row.last_error = None


def mark_failed(row: OutboxEvent, error: str, *, retry_in: timedelta, now: datetime | None = None) -> None:
    row.attempts += 1
    row.last_error = error[:MAX_ERROR_LENGTH]
    row.next_attempt_at = (now or datetime.now(UTC)) + retry_in


@dataclass(frozen=True, slots=True)
class Backlog:
    """Events not yet relayed: how many, and since when the oldest waits."""

    unsent: int
    oldest: datetime | None


async def backlog(session: AsyncSession) -> Backlog:
    count, oldest = (
        await session.execute(
            select(func.count(), func.min(OutboxEvent.occurred_at)).where(OutboxEvent.published_at.is_(None))
        )
    ).one()
    return Backlog(int(count), oldest)


async def relay_status(db: Database, *, amqp: bool, now: datetime | None = None) -> tuple[str, str]:
    """Whether events get through, for the console's status ("ok", "down" or "off") with a sentence saying why.

    Read from the outbox, so any process can tell: an unsent event older than RELAY_LAG_LIMIT means the relay is
    not getting it out (RabbitMQ away, no worker running, or an in-process handler failing).
    """
    target = "RabbitMQ" if amqp else "in-process subscribers"
    try:
        async with db.session() as session:
            waiting = await backlog(session)
    except Exception:
        return "down", "the event outbox cannot be read"
    lag = (now or datetime.now(UTC)) - waiting.oldest if waiting.oldest is not None else timedelta(0)
    if lag > RELAY_LAG_LIMIT:
        return "down", f"events waiting {int(lag.total_seconds())} s for {target}"
    return ("ok" if amqp else "off"), ("configured: events relayed" if amqp else "not configured: events in process")


async def has_unsent(db: Database) -> bool:
    async with db.session() as session:
        found = await session.scalar(select(OutboxEvent.id).where(OutboxEvent.published_at.is_(None)).limit(1))
    return found is not None


async def consume(db: Database, subscription: Subscription, event: Event) -> Consumed:
    """Runs the subscription's handler for `event` once per queue, however often the event is delivered.

    The handler shares the transaction that records the outcome, so its writes and the "processed" mark commit
    together. A failure is counted; at `max_attempts` failures the event is dead for this queue. Raises only when
    the outcome cannot be recorded (the database is away): the delivery is then retried as if never made.
    The delivery is a span in the publisher's trace (a child of the span that published the event).
    """
    attributes = {"opsdesk.event_id": str(event.id), "opsdesk.event_queue": subscription.queue}
    with telemetry.continued_span(f"event {event.type}", event.trace_context, **attributes) as current:
        consumed = await _consume(db, subscription, event)
        telemetry.set_outcome(current, consumed.outcome, failed=consumed.outcome in ("failed", "dead"))
        return consumed


async def _consume(db: Database, subscription: Subscription, event: Event) -> Consumed:
    async with db.session() as session:
        claimed = insert(EventConsumption).values(
            queue=subscription.queue, event_id=event.id, event_type=event.type, status="failed", attempts=0
        )
        # One delivery at a time per (queue, event): a concurrent duplicate waits here, then finds it processed.
        await session.execute(claimed.on_conflict_do_nothing())
        record = await session.scalar(
            select(EventConsumption)
            .where(EventConsumption.queue == subscription.queue, EventConsumption.event_id == event.id)
            .with_for_update()
        )
        assert record is not None
        if record.status in ("processed", "dead"):
            CONSUMED.labels(subscription.queue, "duplicate").inc()
            return Consumed("duplicate", record.attempts)
        record.attempts += 1
        try:
            async with asyncio.timeout(subscription.timeout_s), session.begin_nested():
                await subscription.handler(session, event)
        except Exception as exc:
            record.last_error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
            record.status = "dead" if record.attempts >= subscription.max_attempts else "failed"
            log = _log.error if record.status == "dead" else _log.warning
            log(
                "event_handler_failed",
                queue=subscription.queue,
                event_id=str(event.id),
                event_type=event.type,
                attempt=record.attempts,
                then=record.status,
                error=record.last_error,
            )
            outcome: Outcome = "dead" if record.status == "dead" else "failed"
            CONSUMED.labels(subscription.queue, outcome).inc()
            return Consumed(outcome, record.attempts)
        record.status, record.last_error = "processed", None
        CONSUMED.labels(subscription.queue, "processed").inc()
        return Consumed("processed", record.attempts)


async def consumption(db: Database, queue: str, event_id: uuid.UUID) -> EventConsumption | None:
    async with db.session() as session:
        return await session.get(EventConsumption, (queue, event_id))


async def prune(db: Database, *, older_than: timedelta, now: datetime | None = None) -> dict[str, int]:
    """Deletes relayed events and finished consumption records older than `older_than` (dead ones are kept)."""
    cutoff = (now or datetime.now(UTC)) - older_than
    async with db.session() as session:
        events = await session.execute(
            delete(OutboxEvent).where(OutboxEvent.published_at.is_not(None), OutboxEvent.published_at < cutoff)
        )
        consumed = await session.execute(
            delete(EventConsumption).where(EventConsumption.status == "processed", EventConsumption.updated_at < cutoff)
        )
    return {"events": _count(events), "consumptions": _count(consumed)}


async def retry_dead(db: Database, queue: str, *, relay_again: bool) -> list[uuid.UUID]:
    """Makes the dead events of `queue` failed again with no attempts counted, so a redelivery runs the handler
    (after a fix); returns their ids. With `relay_again` (in-process delivery) their outbox rows are relayed again;
    with RabbitMQ the caller moves the dead-letter queue's messages back instead."""
    async with db.session() as session:
        ids = list(
            await session.scalars(
                update(EventConsumption)
                .where(EventConsumption.queue == queue, EventConsumption.status == "dead")
                .values(status="failed", attempts=0)
                .returning(EventConsumption.event_id)
            )
        )
        if relay_again and ids:
            await session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_(ids))
                .values(published_at=None, next_attempt_at=datetime.now(UTC))
            )
    return ids


@dataclass(frozen=True, slots=True)
class QueueCounts:
    queue: str
    processed: int
    failed: int
    dead: int


async def queue_counts(session: AsyncSession) -> list[QueueCounts]:
    """Per consumer queue: events processed, failing so far, and dead."""
    rows = await session.execute(
        select(EventConsumption.queue, EventConsumption.status, func.count())
        .group_by(EventConsumption.queue, EventConsumption.status)
        .order_by(EventConsumption.queue)
    )
    counts: dict[str, dict[str, int]] = {}
    for queue, status, count in rows:
        counts.setdefault(queue, {})[status] = int(count)
    return [
        QueueCounts(queue, found.get("processed", 0), found.get("failed", 0), found.get("dead", 0))
        for queue, found in counts.items()
    ]


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
