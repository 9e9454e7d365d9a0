"""The ``crew_runs`` table: one row per delivery-crew run — what the API shows; the flow's truth is its checkpoint."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Float, ForeignKey, Index, Integer, String, Text, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.auth import models as _auth_models  # noqa: F401  (registers the workspaces table our key names)
from opsdesk.db.base import Base, IdMixin, TimestampMixin, utcnow

RUN_STATUSES = ("running", "waiting", "paused", "stopped", "failed", "completed")


class CrewRun(IdMixin, TimestampMixin, Base):
    """A requirement on its way to stories, a merge request and pages; steps and artefacts as the flow reported them."""

    __tablename__ = "crew_runs"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'waiting', 'paused', 'stopped', 'failed', 'completed')", name="status"),
        Index("ix_crew_runs_workspace_created", "workspace_id", "created_at"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"))
    created_by: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200))
    requirement: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(200), default="local")  # "local" = offline agents
    status: Mapped[str] = mapped_column(String(20), default="running")
    waiting_for: Mapped[str | None] = mapped_column(String(40))  # the approval gate, while status is waiting
    detail: Mapped[str | None] = mapped_column(Text)  # why it paused, stopped or failed
    retry_after_s: Mapped[float | None] = mapped_column(Float)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    artefacts: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # each artefact's version before its latest (a rerun after a rejection, an edit, a fix round): what a gate diffs
    previous_artefacts: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    links: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)  # Jira keys, MR and page URLs
    budget: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    work_s: Mapped[float] = mapped_column(Float, default=0.0)  # time spent in steps (not waiting for people)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def waiting_at(self) -> list[str]:
        """Every gate the run waits at without an answer yet (two while the parallel gates wait together)."""
        return [str(step["step"]) for step in self.steps or [] if step.get("status") == "waiting"]
