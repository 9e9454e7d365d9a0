"""Request and response bodies of crew runs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from opsdesk.crew.flow.state import Answer

__all__ = ["Answer", "BudgetIn", "ResumeIn", "RunIn", "RunOut", "RunSummary"]


class BudgetIn(BaseModel):
    """Limits of a run; a limit left out is no limit."""

    # Bounded, so NaN, Infinity (which JSON bodies may carry and PostgreSQL's JSON cannot store) and numbers past
    # any real run are a 422 naming the field, not a 500.
    max_tokens: int | None = Field(None, ge=0, le=1_000_000_000)
    max_cost_usd: float | None = Field(None, ge=0, le=1_000_000, allow_inf_nan=False)
    max_work_s: float | None = Field(None, ge=0, le=30 * 86_400, allow_inf_nan=False)


class RunIn(BaseModel):
    requirement: str = Field(..., min_length=10, max_length=50_000)
    model: str = Field("local", max_length=200, description='"local" (offline agents) or "<provider>[/<model>]"')
    budget: BudgetIn = Field(default_factory=BudgetIn)


class ResumeIn(BaseModel):
    """Resumes a paused, stopped or failed run, optionally with a new budget."""

    budget: BudgetIn | None = None


class RunSummary(BaseModel):
    id: uuid.UUID
    title: str
    status: Literal["running", "waiting", "paused", "stopped", "failed", "completed"]
    waiting_for: str | None  # the gate an answer without a gate name answers
    waiting_at: list[str] = Field(default_factory=list)  # every gate waiting for an answer
    detail: str | None
    model: str
    tokens: int
    cost_usd: float
    work_s: float
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class RunOut(RunSummary):
    requirement: str
    retry_after_s: float | None
    budget: dict[str, Any]
    steps: list[dict[str, Any]]
    artefacts: dict[str, Any]
    links: dict[str, Any]
