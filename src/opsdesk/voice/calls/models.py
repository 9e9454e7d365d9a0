"""The ``voice_calls`` table: one row per call the desk answered, written when it starts (``ended_at`` null while it
goes on), after each turn and when it ends. Nothing in it carries a PIN, a card or an account number in clear:
transcripts are masked before they are stored."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.auth import models as _auth_models  # noqa: F401  (registers the workspaces table our key names)
from opsdesk.db.base import Base, IdMixin, TimestampMixin

# A row without an end that has not been written for this long belongs to a gateway process that died: the call is
# shown as ended ("lost"), never as live forever. A live call's row is written at least on every turn, and the
# desk's silence prompt makes a turn every few seconds.
LIVE_SILENCE = timedelta(minutes=3)
# What a live row says as its end reason until the call's end is saved: the reason a lost call keeps.
LOST = "lost"


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
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the row's last write

    @property
    def live(self) -> bool:
        """Whether the call is going on now: no end saved, and written lately (see LIVE_SILENCE)."""
        if self.ended_at is not None or self.updated_at is None:
            return False
        return self.updated_at >= datetime.now(UTC) - LIVE_SILENCE

    @property
    def recorded(self) -> bool:
        """Whether the record names a recording (what the API and the console say; never the server's path)."""
        return self.recording is not None
