"""The ``audit_events`` table: append-only, one row per change a member or an API key made."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ForeignKey, Index, SmallInteger, String, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.auth import models as _auth_models  # noqa: F401  (registers the workspaces table our key names)
from opsdesk.db.base import Base, IdMixin, TimestampMixin


class AuditEvent(IdMixin, TimestampMixin, Base):
    """What was done (the route and its handler), by whom, to what (the path's ids), with the safe details the
    handler added (never a request body: it may hold secrets)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_workspace_created", "workspace_id", "created_at"),)

    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"))
    actor_kind: Mapped[str] = mapped_column(String(16))  # user | api_key
    actor_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    actor: Mapped[str] = mapped_column(String(320))  # the user's email or the key's name, as it was then
    action: Mapped[str] = mapped_column(String(100))  # the handler, e.g. revoke_api_key
    route: Mapped[str] = mapped_column(String(300))  # e.g. DELETE /api/v1/workspaces/{workspace}/api-keys/{key_id}
    target: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)  # the path's parameters but the workspace
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    status: Mapped[int] = mapped_column(SmallInteger)
    request_id: Mapped[str | None] = mapped_column(String(64))
