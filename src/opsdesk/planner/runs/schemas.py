"""What the planner's run endpoints take and return."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

_NAME = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
# A model line's name as a key: what PostgreSQL's JSON can hold (no NUL) and a person can read (no control chars).
LineName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]
Units = Annotated[int, Field(ge=0, le=1_000_000)]


class MixShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line: str = _NAME
    min_share: float = Field(default=0.0, ge=0.0, le=1.0)
    max_share: float = Field(default=1.0, ge=0.0, le=1.0)
    basis: Literal["order", "stock"] = "order"

    @model_validator(mode="after")
    def _ordered(self) -> MixShareIn:
        if self.min_share > self.max_share:
            raise ValueError(f"min_share {self.min_share} is above max_share {self.max_share} for {self.line}")
        return self


class ConstraintsIn(BaseModel):
    """The limits a recommendation holds to; each may be left out (no such limit)."""

    model_config = ConfigDict(extra="forbid")

    budget: float | None = Field(default=None, ge=0, le=1e12)
    lot_space: float | None = Field(default=None, ge=0, le=1e9)
    allocation: dict[LineName, Units] = Field(default_factory=dict, max_length=10_000)  # model line → max units
    mix: list[MixShareIn] = Field(default_factory=list, max_length=1000)
    min_days_of_supply: float = Field(default=0.0, ge=0, le=3650)
    holding_rate_per_year: float = Field(default=0.25, ge=0, le=10)
    review_weeks: float = Field(default=1.0, gt=0, le=52)
    default_lead_time_weeks: float = Field(default=2.0, ge=0, le=104)
    currency: str = Field(default="SGD", min_length=3, max_length=3, pattern=r"^[A-Z]{3}$")


class ForecastStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    freq: Literal["W", "MS"] = "W"
    horizon: int = Field(default=8, ge=1, le=104)


class ForecastRunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: str
    freq: str
    horizon: int
    job_id: uuid.UUID | None
    series: int
    reconciliation: str | None
    summary: dict[str, Any]
    progress: dict[str, Any]
    error: str | None
    history_start: datetime | None
    history_end: datetime | None
    created_at: datetime
    finished_at: datetime | None


class SeriesOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    level: str
    key: str
    model: str
    pattern: str
    backtest_mase: float | None
    backtest_smape: float | None
    fallback: str | None
    values: dict[str, Any]


class RecommendIn(BaseModel):
    """Which forecast (the newest finished one when left out) and, optionally, constraints for this run only."""

    model_config = ConfigDict(extra="forbid")

    forecast_run_id: uuid.UUID | None = None
    constraints: ConstraintsIn | None = None


class WhatIfIn(BaseModel):
    """Changes to the base run's constraints; only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    changes: dict[str, Any] = Field(min_length=1, max_length=20)


class LineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    item_key: str
    model_line: str
    quantity: int
    packs: int
    target: dict[str, Any]
    stock_after: int
    days_of_supply_after: float | None
    expected_gross_profit: float
    cost: float
    bound_by: list[str]
    reason: str


class RecommendationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    forecast_run_id: uuid.UUID
    base_run_id: uuid.UUID | None
    status: str
    constraints: dict[str, Any]
    weights: dict[str, Any]
    totals: dict[str, Any]
    usage: list[Any]
    infeasibility: dict[str, Any] | None
    stats: dict[str, Any]
    created_at: datetime
    lines: list[LineOut] = Field(default_factory=list)


class WhatIfOut(BaseModel):
    base_run_id: uuid.UUID
    run: RecommendationOut
    changes: list[dict[str, Any]]
    objective_delta: float
    summary: str


class LearningCycleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    accepted: bool
    reason: str
    old_weights: dict[str, Any]
    new_weights: dict[str, Any]
    objective_before: float
    objective_after: float
    details: dict[str, Any]
    created_at: datetime
