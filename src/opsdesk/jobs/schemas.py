"""What the jobs API returns."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


class JobOut(BaseModel):
    """One job. `source` is always `jobs` now (ingestion jobs, once a queue of their own, are jobs of this layer)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    task: str
    status: JobStatus
    attempts: int
    max_attempts: int
    payload: dict[str, Any]
    result: Any | None
    last_error: str | None
    run_after: datetime
    heartbeat_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime
    source: str


class ScheduleOut(BaseModel):
    """A recurring task of the installation (not of one workspace): on `cron` (UTC) or every `interval_s` seconds."""

    model_config = ConfigDict(from_attributes=True)

    name: str
    task: str
    cron: str | None
    interval_s: float | None
    enabled: bool
    next_run_at: datetime
    last_run_at: datetime | None
