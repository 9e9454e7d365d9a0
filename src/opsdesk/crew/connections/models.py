"""The ``crew_connections`` table: one row per workspace and vendor; the token is stored encrypted (Fernet)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.auth import models as _auth_models  # noqa: F401  (registers the workspaces table our key names)
from opsdesk.db.base import Base, IdMixin, TimestampMixin, utcnow


class CrewConnection(IdMixin, TimestampMixin, Base):
    """Where a workspace's Jira, Confluence or GitLab is and how to sign in; the token never leaves the server."""

    __tablename__ = "crew_connections"
    __table_args__ = (
        UniqueConstraint("workspace_id", "vendor", name="uq_crew_connections_workspace_vendor"),
        CheckConstraint("vendor IN ('jira', 'confluence', 'gitlab')", name="vendor"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    vendor: Mapped[str] = mapped_column(String(20))
    base_url: Mapped[str] = mapped_column(String(500))
    username: Mapped[str | None] = mapped_column(String(200))  # None: the token is sent as a bearer token
    token_encrypted: Mapped[str] = mapped_column(Text)
    # The Jira project key, Confluence space key or GitLab project path the crew works in.
    scope: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
