"""Every model call, recorded for cost and reliability accounting."""

from __future__ import annotations

import uuid

from sqlalchemy import Float, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.db.base import Base, IdMixin, TimestampMixin


class ProviderCall(IdMixin, TimestampMixin, Base):
    __tablename__ = "provider_calls"

    workspace_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(200))
    operation: Mapped[str] = mapped_column(String(20))  # chat | embed
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    outcome: Mapped[str] = mapped_column(String(32))  # ok | error | timeout | rate_limited | breaker_open
    error: Mapped[str | None] = mapped_column(Text)
