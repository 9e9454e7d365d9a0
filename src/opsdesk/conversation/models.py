"""Conversation sessions, their messages, escalations to people, and the semantic answer cache (L2)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.db.base import Base, IdMixin, TimestampMixin, utcnow

EMBEDDING_DIM = 384


class ConversationSession(IdMixin, TimestampMixin, Base):
    """One conversation of one external sender on one channel with one solution; `state` belongs to the flows."""

    __tablename__ = "conversation_sessions"
    __table_args__ = (
        # At most one open (or escalated) session per sender, channel and solution: concurrent first messages
        # from one sender end up in the same session.
        Index(
            "uq_conversation_sessions_live",
            "workspace_id",
            "channel",
            "solution",
            "sender",
            unique=True,
            postgresql_where=text("status <> 'closed'"),
        ),
        Index("ix_conversation_sessions_workspace_activity", "workspace_id", "last_activity_at"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))  # chat | whatsapp | voice
    sender: Mapped[str] = mapped_column(String(128))  # external sender id: a phone number, a chat user id
    sender_name: Mapped[str | None] = mapped_column(String(200))
    solution: Mapped[str] = mapped_column(String(50))
    state: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | escalated | closed
    last_intent: Mapped[str | None] = mapped_column(String(32))
    last_activity_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ConversationMessage(IdMixin, TimestampMixin, Base):
    """A message in or out. `masked_text` is the copy with personal data hidden, for logs and viewers."""

    __tablename__ = "conversation_messages"
    __table_args__ = (
        # The same inbound message delivered twice (a webhook retry) is stored, and so processed, once.
        UniqueConstraint("workspace_id", "channel", "external_id", name="uq_conversation_messages_external"),
        Index("ix_conversation_messages_session_created", "session_id", "created_at"),
        Index("ix_conversation_messages_created_at", "created_at"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"))
    session_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("conversation_sessions.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    text: Mapped[str] = mapped_column(Text)
    masked_text: Mapped[str] = mapped_column(Text)
    intent: Mapped[str | None] = mapped_column(String(32))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, default=dict)
    external_id: Mapped[str | None] = mapped_column(String(200))
    # Inbound: received -> processing -> replied | failed. Outbound: sent.
    status: Mapped[str] = mapped_column(String(16), default="received")
    reply_to_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("conversation_messages.id", ondelete="CASCADE"), index=True
    )
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Escalation(IdMixin, TimestampMixin, Base):
    """A case handed to people: its level (ai -> staff -> manager -> director), SLA due time and handling."""

    __tablename__ = "conversation_escalations"
    __table_args__ = (
        Index("ix_conversation_escalations_inbox", "workspace_id", "status", "sla_due_at"),
        Index("ix_conversation_escalations_session", "session_id"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"))
    session_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("conversation_sessions.id", ondelete="CASCADE"))
    message_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("conversation_messages.id", ondelete="SET NULL")
    )
    level: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    complaint: Mapped[bool] = mapped_column(Boolean, default=False)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    sla_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | acknowledged | resolved
    assignee: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    breached: Mapped[bool] = mapped_column(Boolean, default=False)  # overdue at the top level
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SemanticCacheEntry(IdMixin, TimestampMixin, Base):
    """L2: an answer to a stateless question, found again by the question's embedding.

    `scope` is a digest of everything the answer depends on (solution, knowledge base and its content version,
    model, prompt version): a lookup only ever compares entries of one scope, so any change misses.
    """

    __tablename__ = "conversation_semantic_cache"
    __table_args__ = (Index("ix_conversation_semantic_cache_scope", "workspace_id", "scope", "expires_at"),)

    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(64))
    solution: Mapped[str] = mapped_column(String(50))
    kb_version: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(200))
    prompt_version: Mapped[str] = mapped_column(String(64))
    question: Mapped[str] = mapped_column(Text)
    embedding: Mapped[list[float]] = mapped_column(Vector(EMBEDDING_DIM))
    answer: Mapped[dict[str, Any]] = mapped_column(JSONB)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
