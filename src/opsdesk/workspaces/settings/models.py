"""The stored business settings of a workspace: only what it changed from the defaults, plus its logo."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.db.base import Base, TimestampMixin, utcnow


class WorkspaceSettingsRow(TimestampMixin, Base):
    """One row per workspace that changed anything; a workspace without one runs on the defaults."""

    __tablename__ = "workspace_settings"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    # The values the workspace set, in the shape of schemas.WorkspaceSettings; the rest comes from the defaults.
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # Bumped on every change: processes compare it to their cached copy (one primary-key read).
    version: Mapped[int] = mapped_column(Integer, default=1)
    logo: Mapped[bytes | None] = mapped_column(LargeBinary)
    logo_content_type: Mapped[str | None] = mapped_column(String(50))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
