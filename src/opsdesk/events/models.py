"""The event bus tables: `event_outbox` (events written with the state change, then relayed) and
`event_consumptions` (what each consumer queue has processed, for de-duplication and the dead state)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.db.base import Base, IdMixin, utcnow

CONSUMPTION_STATUSES = ("processed", "failed", "dead")


class OutboxEvent(IdMixin, Base):
    """One business event, written in the transaction of the state change it reports; the relay publishes it."""

    __tablename__ = "event_outbox"
    __table_args__ = (
        # What the relay scans: unsent events, oldest first.
        Index("ix_event_outbox_unsent", "seq", postgresql_where=text("published_at IS NULL")),
        # Per-key order: an event waits while an older unsent event of its key exists.
        Index("ix_event_outbox_unsent_key", "key", "seq", postgresql_where=text("published_at IS NULL")),
        Index("ix_event_outbox_published", "published_at", postgresql_where=text("published_at IS NOT NULL")),
    )

    # Commit order is not id order (UUIDv7 is random inside a millisecond); the sequence orders the relay.
    seq: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(100))
    key: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    # The publishing span's W3C trace context (`traceparent`, `tracestate`); empty while tracing is off.
    trace_context: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))


class EventConsumption(Base):
    """What one consumer queue did with one event: processed (never again), failed so far, or dead."""

    __tablename__ = "event_consumptions"
    __table_args__ = (
        CheckConstraint(f"status IN {CONSUMPTION_STATUSES}", name="status"),
        Index("ix_event_consumptions_updated_at", "updated_at"),
    )

    queue: Mapped[str] = mapped_column(String(200), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    event_type: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
