"""The ``voice_calls`` table: one row per call the desk answered. Nothing in it carries a PIN, a card or an
account number in clear: transcripts are masked before they are stored."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.auth import models as _auth_models  # noqa: F401  (registers the workspaces table our key names)
from opsdesk.db.base import Base, IdMixin, TimestampMixin


class VoiceCall(IdMixin, TimestampMixin, Base):
    __tablename__ = "voice_calls"
    __table_args__ = (
        UniqueConstraint("workspace_id", "call_id", name="uq_voice_calls_workspace_call_id"),
        Index("ix_voice_calls_workspace_started", "workspace_id", "started_at"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"))
    call_id: Mapped[str] = mapped_column(String(200))  # the SIP Call-ID
    caller: Mapped[str] = mapped_column(String(200))  # the From URI's user part
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    intents: Mapped[list[str]] = mapped_column(JSONB)  # the flow's intents, in the order the caller raised them
    auth_outcome: Mapped[str] = mapped_column(String(32))  # none | passed | failed | unknown_account | backend_…
    transfers: Mapped[int] = mapped_column(SmallInteger)
    transfer_summary: Mapped[str | None] = mapped_column(Text)
    end_reason: Mapped[str] = mapped_column(String(64))
    # {stage: {"count", "p50_ms", "p95_ms", "max_ms"}} from the pipeline's own timings
    stage_latencies: Mapped[dict[str, Any]] = mapped_column(JSONB)
    transcript: Mapped[list[dict[str, str]]] = mapped_column(JSONB)  # [{"who": caller|bot, "text": masked}]
    # The caller's audio as a WAV file, when recordings are on; cleared when the recording retention deletes it.
    recording: Mapped[str | None] = mapped_column(String(1000))

    @property
    def recorded(self) -> bool:
        """Whether the record names a recording (what the API and the console say; never the server's path)."""
        return self.recording is not None
