"""Forecast runs: weekly sales from the database become a forecast per item (and per model line and in total),
made by a background job, with its progress on the run and every series stored with its model and backtest error."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.app.context import AppContext
from opsdesk.core.errors import InvalidInput, NotFound
from opsdesk.core.logging import get_logger
from opsdesk.db.paging import page
from opsdesk.jobs.service import enqueue
from opsdesk.planner.forecasting.engine import ForecastInputError, ForecastOptions
from opsdesk.planner.forecasting.reconcile import forecast_hierarchy
from opsdesk.planner.forecasting.results import ReconciledForecast, SeriesForecast, to_dict
from opsdesk.planner.models import PlannerItem, Sale
from opsdesk.planner.runs.models import ForecastRun, SeriesForecastRow

if TYPE_CHECKING:  # pandas is imported where frames are built (a third of a second at import)
    import pandas as pd

FORECAST_TASK = "planner.forecast"
# What each stored series keeps: the bands for the charts, and the error samples the order-up-to levels draw from.
STORED_VALUES = ("ds", "mean", "lo80", "hi80", "lo95", "hi95", "weights", "residuals", "recent_demand", "whole_units")
FREQS = {"W": "W-SUN", "MS": "M"}  # pandas periods: weeks Monday to Sunday (start Monday), calendar months
_log = get_logger(__name__)


async def start_forecast(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    freq: str = "W",
    horizon: int = 8,
    created_by: str = "",
    then_recommend: bool = False,
) -> ForecastRun:
    """Creates a queued run and its job in the caller's transaction (both exist or neither); with `then_recommend`
    the job also solves a recommendation on it (the demo's first plan)."""
    if freq not in FREQS:
        raise InvalidInput(f"freq must be one of {', '.join(FREQS)}.", code="invalid_freq")
    if not 1 <= horizon <= 104:
        raise InvalidInput("horizon must be between 1 and 104 periods.", code="invalid_horizon")
    sales = await session.scalar(select(func.count()).select_from(Sale).where(Sale.workspace_id == workspace_id))
    if not sales:
        raise InvalidInput("There are no sales to forecast from: import sales first.", code="no_sales")
    run = ForecastRun(workspace_id=workspace_id, freq=freq, horizon=horizon, created_by=created_by, status="queued")
    session.add(run)
    await session.flush()
    payload = {"run_id": str(run.id), "then_recommend": then_recommend}
    job = await enqueue(session, FORECAST_TASK, payload, workspace_id=workspace_id)
    run.job_id = job.id
    return run


async def sales_history(
    session: AsyncSession, workspace_id: uuid.UUID, freq: str
) -> tuple[pd.DataFrame, dict[str, str]]:
    """The long frame (`unique_id` = item key, `ds`, `y`) of active items' sales per period, and item → model line."""
    import pandas as pd

    rows = (
        await session.execute(
            select(PlannerItem.key, PlannerItem.model_line, Sale.sale_date, Sale.quantity)
            .join(Sale, Sale.item_id == PlannerItem.id)
            .where(PlannerItem.workspace_id == workspace_id, PlannerItem.active.is_(True))
        )
    ).all()
    lines = {key: line or "(no line)" for key, line, _, _ in rows}
    if not rows:
        return pd.DataFrame({"unique_id": [], "ds": [], "y": []}), lines
    frame = pd.DataFrame([(key, day, float(qty)) for key, _, day, qty in rows], columns=["unique_id", "ds", "y"])
    frame["ds"] = pd.to_datetime(frame["ds"]).dt.to_period(FREQS[freq]).dt.start_time
    grouped = frame.groupby(["unique_id", "ds"], as_index=False)["y"].sum()
    return grouped.sort_values(["unique_id", "ds"]).reset_index(drop=True), lines


def levels(result: ReconciledForecast) -> list[tuple[str, SeriesForecast]]:
    """Every stored series with its level: the items, their model lines and the total, reconciled."""
    return [
        *(("item", f) for f in result.items),
        *(("line", f) for f in result.lines),
        ("total", result.total),
    ]


class _Progress:
    """Carries the engine's progress (reported from its thread) to the run row, at most once a second."""

    def __init__(self) -> None:
        self.done = 0
        self.total = 0

    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = done, total


async def _report_progress(ctx: AppContext, run_id: uuid.UUID, progress: _Progress) -> None:
    last = (-1, -1)
    while True:
        await asyncio.sleep(1.0)
        now = (progress.done, progress.total)
        if now != last:
            async with ctx.db.session() as session:
                progress_now = {"done": now[0], "total": now[1]}
                await session.execute(update(ForecastRun).where(ForecastRun.id == run_id).values(progress=progress_now))
            last = now


async def run_forecast(ctx: AppContext, run_id: uuid.UUID) -> dict[str, Any]:
    """The job: reads the history, forecasts in a worker thread (statsforecast uses the machine's cores), stores."""
    async with ctx.db.session() as session:
        run = await session.get(ForecastRun, run_id)
        if run is None:
            raise NotFound("The forecast run no longer exists.")
        run.status, run.error = "running", None
        history, lines = await sales_history(session, run.workspace_id, run.freq)
        freq, horizon, workspace_id = run.freq, run.horizon, run.workspace_id
    progress = _Progress()
    reporter = asyncio.create_task(_report_progress(ctx, run_id, progress))
    options = ForecastOptions(
        horizon=horizon,
        freq=freq,
        n_jobs=ctx.settings.forecast_n_jobs,
        engine=ctx.settings.forecast_engine,
        dask_address=ctx.settings.forecast_dask_address,
    )
    try:
        result = await asyncio.to_thread(forecast_hierarchy, history, lines, options=options, progress=progress)
    except ForecastInputError as exc:
        await _finish(ctx, run_id, error=str(exc))
        return {"status": "failed", "error": str(exc)}
    finally:
        reporter.cancel()
    forecasts = result.items
    rows = levels(result)
    async with ctx.db.session() as session:
        for level, forecast in rows:
            data = to_dict(forecast)
            session.add(
                SeriesForecastRow(
                    run_id=run_id,
                    workspace_id=workspace_id,
                    level=level,
                    key=forecast.unique_id,
                    model=forecast.model[:200],
                    pattern=forecast.pattern,
                    backtest_mase=data["backtest_mase"],
                    backtest_smape=data["backtest_smape"],
                    fallback=forecast.fallback,
                    values={k: data[k] for k in STORED_VALUES},
                )
            )
    summary = _summary(forecasts, history)
    await _finish(ctx, run_id, summary=summary, series=len(forecasts), history=history, method=result.method)
    return {"status": "succeeded", "series": len(forecasts)}


def _summary(forecasts: Sequence[SeriesForecast], history: pd.DataFrame) -> dict[str, Any]:
    models: dict[str, int] = {}
    patterns: dict[str, int] = {}
    for forecast in forecasts:
        models[forecast.model] = models.get(forecast.model, 0) + 1
        patterns[forecast.pattern] = patterns.get(forecast.pattern, 0) + 1
    mases = [f.backtest_mase for f in forecasts if f.backtest_mase is not None and np.isfinite(f.backtest_mase)]
    return {
        "models": models,
        "patterns": patterns,
        "fallbacks": sum(f.fallback is not None for f in forecasts),
        "mean_backtest_mase": round(float(np.mean(mases)), 4) if mases else None,
        "history_rows": len(history),
    }


async def _finish(
    ctx: AppContext,
    run_id: uuid.UUID,
    *,
    error: str | None = None,
    summary: dict[str, Any] | None = None,
    series: int = 0,
    history: pd.DataFrame | None = None,
    method: str | None = None,
) -> None:
    import pandas as pd

    values: dict[str, Any] = {
        "status": "failed" if error else "succeeded",
        "error": error,
        "finished_at": datetime.now(UTC),
        "series": series,
        "reconciliation": method,
    }
    if summary is not None:
        values["summary"] = summary
        values["progress"] = {"done": 1, "total": 1}
    if history is not None and len(history):
        values["history_start"] = pd.Timestamp(history["ds"].min()).to_pydatetime().replace(tzinfo=UTC)
        values["history_end"] = pd.Timestamp(history["ds"].max()).to_pydatetime().replace(tzinfo=UTC)
    async with ctx.db.session() as session:
        await session.execute(update(ForecastRun).where(ForecastRun.id == run_id).values(**values))


async def get_run(session: AsyncSession, workspace_id: uuid.UUID, run_id: uuid.UUID) -> ForecastRun:
    run = await session.get(ForecastRun, run_id)
    if run is None or run.workspace_id != workspace_id:
        raise NotFound("No such forecast run in this workspace.")
    return run


async def latest_run(session: AsyncSession, workspace_id: uuid.UUID) -> ForecastRun:
    """The newest succeeded run, or a 404 that says how to make one."""
    run = await session.scalar(
        select(ForecastRun)
        .where(ForecastRun.workspace_id == workspace_id, ForecastRun.status == "succeeded")
        .order_by(ForecastRun.created_at.desc())
        .limit(1)
    )
    if run is None:
        raise NotFound("No finished forecast yet: start one with POST …/planner/forecasts.", code="no_forecast")
    return run


def _series_query(run_id: uuid.UUID, level: str | None, key: str | None) -> Select[SeriesForecastRow]:
    query = select(SeriesForecastRow).where(SeriesForecastRow.run_id == run_id)
    if level is not None:
        query = query.where(SeriesForecastRow.level == level)
    if key is not None:
        query = query.where(SeriesForecastRow.key == key)
    return query


async def series_of(
    session: AsyncSession, run_id: uuid.UUID, *, level: str | None = "item", key: str | None = None
) -> list[SeriesForecastRow]:
    """Every series of a run at `level` (all levels when None), by level and key."""
    query = _series_query(run_id, level, key)
    return list((await session.scalars(query.order_by(SeriesForecastRow.level, SeriesForecastRow.key))).all())


async def page_of_series(
    session: AsyncSession, run_id: uuid.UUID, *, level: str | None, key: str | None, limit: int, offset: int
) -> tuple[list[SeriesForecastRow], int]:
    """A page of a run's series by level and key (unique in a run, so a page never repeats or skips one) and
    their count."""
    ordered = _series_query(run_id, level, key).order_by(SeriesForecastRow.level, SeriesForecastRow.key)
    return await page(session, ordered, limit, offset)
