"""Planner run tables: each forecast, recommendation and learning cycle is kept with what it was asked and what it
found, so every number the planner shows can be traced to a stored run."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.auth import models as _auth_models  # noqa: F401  (registers the workspaces table our keys name)
from opsdesk.db.base import Base, IdMixin, TimestampMixin, utcnow

RUN_STATUSES = ("queued", "running", "succeeded", "failed")
FORECAST_LEVELS = ("item", "line", "total")
_WORKSPACE_FK = "workspaces.id"


def _workspace() -> Mapped[uuid.UUID]:
    return mapped_column(Uuid, ForeignKey(_WORKSPACE_FK, ondelete="CASCADE"), index=True)


class ForecastRun(IdMixin, TimestampMixin, Base):
    """One forecast of every active item's demand, made by a background job from the sales in the database."""

    __tablename__ = "planner_forecast_runs"
    __table_args__ = (CheckConstraint(f"status IN {RUN_STATUSES}", name="status"),)

    workspace_id: Mapped[uuid.UUID] = _workspace()
    status: Mapped[str] = mapped_column(String(16), default="queued")
    freq: Mapped[str] = mapped_column(String(8), default="W")
    horizon: Mapped[int] = mapped_column(Integer, default=8)
    job_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    history_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    history_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    series: Mapped[int] = mapped_column(Integer, default=0)
    reconciliation: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)  # models used, mean backtest error
    progress: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)  # done and total series while running
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(320), default="")
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SeriesForecastRow(IdMixin, Base):
    """One series of a run (an item, a model line or the total): its model, backtest error and intervals."""

    __tablename__ = "planner_forecasts"
    __table_args__ = (
        UniqueConstraint("run_id", "level", "key", name="uq_planner_forecasts_run_level_key"),
        CheckConstraint(f"level IN {FORECAST_LEVELS}", name="level"),
    )

    run_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("planner_forecast_runs.id", ondelete="CASCADE"))
    workspace_id: Mapped[uuid.UUID] = _workspace()
    level: Mapped[str] = mapped_column(String(8))
    key: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(200))
    pattern: Mapped[str] = mapped_column(String(16))
    backtest_mase: Mapped[float | None] = mapped_column(Float)
    backtest_smape: Mapped[float | None] = mapped_column(Float)
    fallback: Mapped[str | None] = mapped_column(Text)
    values: Mapped[dict[str, Any]] = mapped_column(JSONB)  # ds, mean, lo80, hi80, lo95, hi95, weights


class RecommendationRun(IdMixin, TimestampMixin, Base):
    """One solve of the order problem: the constraints and weights it was given, and its plan or its conflict."""

    __tablename__ = "planner_recommendation_runs"

    workspace_id: Mapped[uuid.UUID] = _workspace()
    forecast_run_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("planner_forecast_runs.id", ondelete="CASCADE"), index=True
    )
    base_run_id: Mapped[uuid.UUID | None] = mapped_column(  # a what-if names the run it changes
        Uuid, ForeignKey("planner_recommendation_runs.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(16))  # optimal | feasible | infeasible
    constraints: Mapped[dict[str, Any]] = mapped_column(JSONB)
    weights: Mapped[dict[str, Any]] = mapped_column(JSONB)
    totals: Mapped[dict[str, Any]] = mapped_column(JSONB)
    usage: Mapped[list[Any]] = mapped_column(JSONB, default=list)
    infeasibility: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    stats: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_by: Mapped[str] = mapped_column(String(320), default="")


class RecommendationLineRow(IdMixin, Base):
    """One item's order in a run, with the target it serves and the reason in plain words."""

    __tablename__ = "planner_recommendation_lines"
    __table_args__ = (UniqueConstraint("run_id", "item_key", name="uq_planner_recommendation_lines_run_item"),)

    run_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("planner_recommendation_runs.id", ondelete="CASCADE"), index=True
    )
    item_key: Mapped[str] = mapped_column(String(100))
    model_line: Mapped[str] = mapped_column(String(100), default="")
    quantity: Mapped[int] = mapped_column(Integer)
    packs: Mapped[int] = mapped_column(Integer)
    target: Mapped[dict[str, Any]] = mapped_column(JSONB)  # expected demand, safety stock, on hand, on order
    stock_after: Mapped[int] = mapped_column(Integer)
    days_of_supply_after: Mapped[float | None] = mapped_column(Float)
    expected_gross_profit: Mapped[float] = mapped_column(Float)
    cost: Mapped[float] = mapped_column(Float)
    bound_by: Mapped[list[str]] = mapped_column(JSONB, default=list)
    reason: Mapped[str] = mapped_column(Text)


class LearningCycleRow(IdMixin, TimestampMixin, Base):
    """One learning cycle: old and new weights, the held-out objective before and after, and whether it was kept."""

    __tablename__ = "planner_learning_cycles"

    workspace_id: Mapped[uuid.UUID] = _workspace()
    accepted: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    old_weights: Mapped[dict[str, Any]] = mapped_column(JSONB)
    new_weights: Mapped[dict[str, Any]] = mapped_column(JSONB)
    objective_before: Mapped[float] = mapped_column(Float)
    objective_after: Mapped[float] = mapped_column(Float)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)  # periods, t statistic, cells used
    created_by: Mapped[str] = mapped_column(String(320), default="")


class PlannerState(Base):
    """A workspace's planner settings: the constraints it plans under and the weights learning has accepted."""

    __tablename__ = "planner_state"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey(_WORKSPACE_FK, ondelete="CASCADE"), primary_key=True
    )
    constraints: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    weights: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)  # margin, holding, shortage, item_bias
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
