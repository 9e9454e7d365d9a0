"""The durable queue of acknowledged WhatsApp messages: claim with a lease, record each step, retry or give up.

A row is claimed by incrementing `attempts` and setting `locked_until`; the attempt number is the lease every later
write presents, so a worker whose lease ran out (it died, or took longer than `LEASE`) can no longer touch the row
once another worker has claimed it again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Uuid, bindparam, delete, func, text, update

from opsdesk.conversation.whatsapp.models import WhatsAppInbound
from opsdesk.db.base import utcnow
from opsdesk.db.engine import Database

LEASE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Lease:
    """The right to work on one row, valid while its `attempts` still equals `attempt`."""

    row_id: uuid.UUID
    attempt: int


class LeaseLost(Exception):
    """Another worker has claimed the row since (this one's lease ran out)."""


_CLAIM = text(
    """
    UPDATE whatsapp_inbound AS w
    SET attempts = w.attempts + 1, locked_until = :locked_until
    FROM (
        SELECT id FROM whatsapp_inbound
        WHERE status = 'queued'
          AND (CAST(:row_id AS uuid) IS NULL OR id = :row_id)
          AND next_attempt_at <= :now
          AND (locked_until IS NULL OR locked_until < :now)
        ORDER BY next_attempt_at, created_at
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    ) AS c
    WHERE w.id = c.id
    RETURNING w.id, w.attempts
    """
).bindparams(
    bindparam("row_id", type_=Uuid),
    bindparam("now", type_=DateTime(timezone=True)),
    bindparam("locked_until", type_=DateTime(timezone=True)),
)


async def claim(db: Database, *, now: datetime | None = None, row_id: uuid.UUID | None = None) -> Lease | None:
    """Claims the given row, or the one due longest; None when it is not due, taken or done."""
    now = now or utcnow()
    async with db.session() as session:
        row = (await session.execute(_CLAIM, {"row_id": row_id, "now": now, "locked_until": now + LEASE})).first()
    return Lease(row[0], row[1]) if row is not None else None


def _owned(lease: Lease) -> Any:
    return (
        (WhatsAppInbound.id == lease.row_id)
        & (WhatsAppInbound.attempts == lease.attempt)
        & (WhatsAppInbound.status == "queued")
    )


async def load(db: Database, lease: Lease) -> WhatsAppInbound:
    async with db.session() as session:
        row = await session.get(WhatsAppInbound, lease.row_id)
    if row is None or row.attempts != lease.attempt or row.status != "queued":
        raise LeaseLost(str(lease.row_id))
    return row


async def _update(db: Database, lease: Lease, **values: Any) -> None:
    async with db.session() as session:
        result = await session.execute(update(WhatsAppInbound).where(_owned(lease)).values(**values))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise LeaseLost(str(lease.row_id))


async def save_reply(db: Database, lease: Lease, reply: str) -> None:
    """The runtime's answer, kept so that a resend after a failure sends exactly this text."""
    await _update(db, lease, reply=reply)


async def part_sent(db: Database, lease: Lease, parts_sent: int, message_id: str) -> None:
    ids = func.coalesce(WhatsAppInbound.reply_message_ids, text("'[]'::jsonb")).op("||")(
        func.jsonb_build_array(message_id)
    )
    await _update(db, lease, parts_sent=parts_sent, reply_message_ids=ids, last_error=None)


async def finish(db: Database, lease: Lease, *, now: datetime | None = None) -> None:
    await _update(db, lease, status="sent", locked_until=None, finished_at=now or utcnow())


async def defer(db: Database, lease: Lease, error: str, *, at: datetime) -> None:
    """Back to the queue, due again at `at`; `error` says why (shown to admins)."""
    await _update(db, lease, locked_until=None, next_attempt_at=at, last_error=error[:2000])


async def fail(db: Database, lease: Lease, error: str, *, now: datetime | None = None) -> None:
    """Given up: the row stays, with the reason, for an admin to see."""
    await _update(db, lease, status="failed", locked_until=None, last_error=error[:2000], finished_at=now or utcnow())


async def purge(db: Database, *, before: datetime) -> int:
    """Deletes finished rows (they hold the customer's message) created before `before`."""
    async with db.session() as session:
        result = await session.execute(
            delete(WhatsAppInbound).where(WhatsAppInbound.status != "queued", WhatsAppInbound.created_at < before)
        )
    return int(result.rowcount)  # type: ignore[attr-defined]
