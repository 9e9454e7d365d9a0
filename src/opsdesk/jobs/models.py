"""The background-job tables: `jobs` (one row per run of a named task) and `job_schedules` (when tasks recur)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, DateTime, Float, ForeignKey, Index, Integer, String, Text, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.db.base import Base, IdMixin, TimestampMixin, utcnow

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
FINISHED = ("succeeded", "failed", "cancelled")


class Job(IdMixin, TimestampMixin, Base):
    """One run of a named task. `attempts` counts claims and is the lease a worker presents on every write."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES}", name="status"),
        # What a worker's claim scans: due queued jobs, and running ones whose heartbeat may have gone stale.
        Index("ix_jobs_queued_due", "run_after", postgresql_where=text("status = 'queued'")),
        Index("ix_jobs_running_heartbeat", "heartbeat_at", postgresql_where=text("status = 'running'")),
        Index("ix_jobs_workspace_created", "workspace_id", "created_at"),
    )

    workspace_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"))
    task: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    run_after: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[Any | None] = mapped_column(JSONB)
    # Enqueueing twice with one key makes one job (idempotent enqueue; schedules use schedule:<name>:<slot>).
    dedupe_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    # The enqueuing request's trace (W3C traceparent), so the run's spans join it; empty while tracing is off.
    trace_context: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))


class JobSchedule(Base):
    """A task that recurs: on a cron expression or every `interval_s` seconds. Rows are written by workers from
    the schedules their tasks declare; `enabled` is kept across those writes."""

    __tablename__ = "job_schedules"
    __table_args__ = (CheckConstraint("(cron IS NULL) <> (interval_s IS NULL)", name="cron_or_interval"),)

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    task: Mapped[str] = mapped_column(String(100))
    cron: Mapped[str | None] = mapped_column(String(100))
    interval_s: Mapped[float | None] = mapped_column(Float)
    next_run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
