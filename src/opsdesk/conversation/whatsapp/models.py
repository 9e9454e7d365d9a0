"""A workspace's WhatsApp Cloud API connection and the durable queue of the messages its webhook acknowledged."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.db.base import Base, IdMixin, TimestampMixin, utcnow


class WhatsAppChannel(TimestampMixin, Base):
    """One WhatsApp Business number connected to a workspace. The token and the app secret never leave the server."""

    __tablename__ = "whatsapp_channels"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    # One number answers for one workspace: its deliveries cannot be routed to two.
    phone_number_id: Mapped[str] = mapped_column(String(64), unique=True)
    access_token: Mapped[str] = mapped_column(Text)
    app_secret: Mapped[str] = mapped_column(String(200))
    verify_token: Mapped[str] = mapped_column(String(200))
    graph_base_url: Mapped[str] = mapped_column(String(500))
    api_version: Mapped[str] = mapped_column(String(16))
    solution: Mapped[str | None] = mapped_column(String(50))  # None: the configured default solution
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class WhatsAppInbound(IdMixin, TimestampMixin, Base):
    """One customer message the webhook acknowledged, until its reply is sent (or given up, with the reason).

    Written in the webhook's transaction before it answers 200, so an acknowledged message survives a crash; the
    unique WhatsApp message id makes Meta's redeliveries of it no-ops.
    """

    __tablename__ = "whatsapp_inbound"
    __table_args__ = (
        UniqueConstraint("workspace_id", "message_id", name="uq_whatsapp_inbound_message"),
        Index("ix_whatsapp_inbound_due", "next_attempt_at", postgresql_where=text("status = 'queued'")),
        Index("ix_whatsapp_inbound_workspace_created", "workspace_id", "created_at"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(200))  # WhatsApp's id of the inbound message (wamid…)
    phone_number_id: Mapped[str] = mapped_column(String(64))
    sender: Mapped[str] = mapped_column(String(64))  # the customer's wa_id: where the reply goes
    value: Mapped[dict[str, Any]] = mapped_column(JSONB)  # the webhook's `value` cut down to this one message
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reply: Mapped[str | None] = mapped_column(Text)  # the runtime's answer, kept so a resend needs no second turn
    parts_sent: Mapped[int] = mapped_column(Integer, default=0)  # a reply longer than WhatsApp allows goes in parts
    reply_message_ids: Mapped[list[str]] = mapped_column(JSONB, default=list)  # Graph's wamid… of each part sent
    last_error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
