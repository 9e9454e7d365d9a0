"""Learning cycles: a workspace's outcome feedback goes through planner.learning and, only when the held-out periods
show a significant gain, the learned weights and item biases become the ones every recommendation plans with.

Forecasts. Feedback rows carry no stored forecast, so each feedback week gets the forecast the planner itself would
have shown for it, made only from sales *before* it: ``planner.learning.backtest``, a statsforecast rolling-origin
backtest with the planner's candidates for the item's pattern, h = the item's lead time (the workspace's default lead
time when the item has none), its members combined and its 80 % interval set from the windows completed before each
origin. A week the backtest cannot reach (too little history at its first origin) falls back to a simple causal
stand-in: the mean of the ``TRAILING_WEEKS`` seven-day blocks just before the week (a block without a sales row
counts 0 once the item has sold at all), with a normal 80 % interval whose spread is those blocks' standard
deviation (Poisson, the square root of the mean, when they do not vary); with fewer than ``MIN_WEEKS`` such blocks the
week has no forecast and the learner skips it. The cycle's details say which method each week got.

Holding. One unit held one week costs unit_cost x holding_rate_per_year / 52 (the workspace's constraints, 0.25 a
year by default), the optimiser's holding cost at a one-week review.

Weights. The learner's ``PlannerWeights(margin, holding, shortage)`` asks for the critical ratio
(margin + shortage) x unit margin / ((margin + shortage) x unit margin + holding x unit holding). The optimiser's
``Weights`` with an item shortage cost of 0 (what recommendations use) asks for margin x unit margin /
(margin x unit margin + holding x unit holding), so a learned ``pw`` is stored as
``Weights(margin=pw.margin + pw.shortage, holding=pw.holding, shortage=<unchanged>, item_bias=multipliers)``: the
same critical ratio; the shortage weight only scales the (zero) item shortage cost and keeps its value. Read back,
stored weights become ``PlannerWeights(margin=1, holding=holding / margin, shortage=0)``: the same tilt
log(margin / holding). The learned item biases replace the stored ones (they are multipliers on the raw forecast).
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.errors import InvalidInput
from opsdesk.planner.learning import BiasCorrection, FeedbackRow, LearningCycle, PlannerWeights, run_learning_cycle
from opsdesk.planner.learning import backtest as backtests
from opsdesk.planner.models import OutcomeFeedback, PlannerItem, Sale
from opsdesk.planner.runs.models import LearningCycleRow
from opsdesk.planner.runs.recommendations import state_of
from opsdesk.planner.runs.schemas import ConstraintsIn

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

TRAILING_WEEKS = 8
MIN_WEEKS = 4
INTERVAL_LEVEL = 0.8
TRAILING_METHOD = (
    f"trailing {TRAILING_WEEKS}-week mean of sales before each week, 80 % interval from those weeks' spread "
    f"(at least {MIN_WEEKS} weeks of history)"
)
FORECAST_METHOD = f"{backtests.describe()}; weeks it cannot reach: {TRAILING_METHOD}"


@cache
def _z() -> float:
    """The normal quantile of the interval's upper end (scipy.stats is loaded on first use, not at import)."""
    from scipy.stats import norm

    return float(norm.ppf(0.5 + INTERVAL_LEVEL / 2.0))


@dataclass(frozen=True)
class TrailingForecast:
    """A causal forecast of one week: its mean and the standard deviation of the weeks it was made from."""

    mean: float
    sigma: float

    @property
    def low(self) -> float:
        return self.mean - _z() * self.sigma

    @property
    def high(self) -> float:
        return self.mean + _z() * self.sigma


def trailing_forecast(
    sale_days: IntArray, quantities: FloatArray, period_day: int, *, weeks: int = TRAILING_WEEKS
) -> TrailingForecast | None:
    """The forecast of the week starting ``period_day`` (a date ordinal) from sales strictly before it.

    Sales fall into seven-day blocks counted back from the week; blocks that end before the item's first sale are
    not history. Fewer than ``MIN_WEEKS`` blocks of history: no forecast.
    """
    if sale_days.size == 0:
        return None
    first = int(sale_days.min())
    back = period_day - sale_days
    inside = (back >= 1) & (back <= 7 * weeks)
    blocks = np.bincount((back[inside] - 1) // 7, weights=quantities[inside], minlength=weeks)[:weeks]
    block_end = period_day - 7 * np.arange(weeks)  # block k covers [period - 7(k + 1), period - 7k)
    history = block_end > first
    if int(history.sum()) < MIN_WEEKS:
        return None
    values = blocks[history]
    mean = float(values.mean())
    spread = float(values.std(ddof=1))
    return TrailingForecast(mean, spread if spread > 0 else math.sqrt(max(mean, 0.0)))


Forecast = TrailingForecast | backtests.WeekForecast
Method = Literal["backtest", "trailing"]


def weekly_series(
    key: str, sale_days: IntArray, quantities: FloatArray, periods: Sequence[date], horizon: int
) -> backtests.WeeklySeries | None:
    """An item's sales as Monday-to-Sunday weeks from its first week of sales, with the feedback weeks as targets
    (in the order given; a week before the first sales has a negative index and is never forecast)."""
    if sale_days.size == 0:
        return None
    first = int(sale_days.min())
    first -= date.fromordinal(first).weekday()
    periods_at = [p.toordinal() - p.weekday() for p in periods]
    weeks = (max(int(sale_days.max()), *periods_at) - first) // 7 + 1
    y = np.bincount((sale_days - first) // 7, weights=quantities, minlength=weeks).astype(np.float64)
    targets = tuple((day - first) // 7 for day in periods_at)
    return backtests.WeeklySeries(key, y, targets, max(1, horizon))


def planner_weights(stored: dict[str, Any]) -> PlannerWeights:
    """Stored optimiser weights as the learner's: the same tilt, margin set to 1."""
    margin = float(stored.get("margin", 1.0))
    holding = float(stored.get("holding", 1.0))
    if margin <= 0 or holding <= 0:
        return PlannerWeights()
    return PlannerWeights(margin=1.0, holding=holding / margin, shortage=0.0)


def stored_weights(weights: PlannerWeights, bias: BiasCorrection, shortage: float) -> dict[str, Any]:
    """The learner's weights and bias as the optimiser's weights (see the module docstring for the mapping)."""
    return {
        "margin": weights.margin + weights.shortage,
        "holding": weights.holding,
        "shortage": shortage,
        "item_bias": {item: round(float(value), 6) for item, value in sorted(bias.multipliers.items())},
    }


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


async def _feedback(session: AsyncSession, workspace_id: uuid.UUID) -> list[tuple[OutcomeFeedback, PlannerItem]]:
    rows = await session.execute(
        select(OutcomeFeedback, PlannerItem)
        .join(PlannerItem, PlannerItem.id == OutcomeFeedback.item_id)
        .where(OutcomeFeedback.workspace_id == workspace_id, OutcomeFeedback.sold.is_not(None))
        .order_by(PlannerItem.key, OutcomeFeedback.period_start)
    )
    return [(feedback, item) for feedback, item in rows.tuples().all()]


async def _sales(
    session: AsyncSession, workspace_id: uuid.UUID, item_ids: set[uuid.UUID], before: date
) -> dict[uuid.UUID, tuple[IntArray, FloatArray]]:
    """Each item's sales (date ordinals, quantities) before ``before``."""
    rows = await session.execute(
        select(Sale.item_id, Sale.sale_date, func.sum(Sale.quantity))
        .where(Sale.workspace_id == workspace_id, Sale.item_id.in_(item_ids), Sale.sale_date < before)
        .group_by(Sale.item_id, Sale.sale_date)
    )
    days: dict[uuid.UUID, list[int]] = defaultdict(list)
    quantities: dict[uuid.UUID, list[float]] = defaultdict(list)
    for item_id, sale_date, quantity in rows.all():
        days[item_id].append(sale_date.toordinal())
        quantities[item_id].append(float(quantity))
    return {
        item_id: (np.array(days[item_id], dtype=np.int64), np.array(quantities[item_id], dtype=np.float64))
        for item_id in days
    }


def _row(feedback: OutcomeFeedback, item: PlannerItem, forecast: Forecast | None) -> FeedbackRow:
    gross = float(feedback.gross_profit) if feedback.gross_profit is not None else math.nan
    return FeedbackRow(
        item=item.key,
        period=feedback.period_start,
        recommended=float(feedback.recommended or 0),
        ordered=float(feedback.ordered or 0),
        sold=float(feedback.sold or 0),
        gross_profit=gross,
        days_to_turn=float(feedback.days_to_turn) if feedback.days_to_turn is not None else None,
        forecast_mean=forecast.mean if forecast else None,
        forecast_low=forecast.low if forecast else None,
        forecast_high=forecast.high if forecast else None,
        interval_level=INTERVAL_LEVEL,
    )


async def _forecasts(
    feedback: Sequence[tuple[OutcomeFeedback, PlannerItem]],
    sales: dict[uuid.UUID, tuple[IntArray, FloatArray]],
    default_lead: float,
    method: Method,
) -> tuple[list[Forecast | None], Counter[str]]:
    """Each feedback row's forecast (backtest where it reaches, else the trailing stand-in) and how many got which."""
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
    reached: dict[tuple[uuid.UUID, date], backtests.WeekForecast] = {}
    if method == "backtest":
        periods: dict[uuid.UUID, list[date]] = defaultdict(list)
        items: dict[uuid.UUID, PlannerItem] = {}
        for f, item in feedback:
            periods[item.id].append(f.period_start)
            items[item.id] = item
        series: dict[uuid.UUID, backtests.WeeklySeries] = {}
        for item_id, item in items.items():
            lead = item.lead_time_weeks if item.lead_time_weeks is not None else default_lead
            one = weekly_series(item.key, *sales.get(item_id, empty), periods[item_id], math.ceil(lead))
            if one is not None:
                series[item_id] = one
        made = await asyncio.to_thread(backtests.backtest, list(series.values()))
        for item_id, one in series.items():
            for period, week in zip(periods[item_id], one.targets, strict=True):
                if week in made[one.key]:
                    reached[(item_id, period)] = made[one.key][week]
    forecasts: list[Forecast | None] = []
    used: Counter[str] = Counter()
    for f, item in feedback:
        forecast: Forecast | None = reached.get((item.id, f.period_start))
        if forecast is not None:
            used["backtest"] += 1
        else:
            forecast = trailing_forecast(*sales.get(item.id, empty), f.period_start.toordinal())
            used["trailing mean" if forecast is not None else "none"] += 1
        forecasts.append(forecast)
    return forecasts, used


def _details(
    cycle: LearningCycle, holding_rate: float, items: int, used: Counter[str], method: Method
) -> dict[str, Any]:
    def weights(w: PlannerWeights) -> dict[str, float]:
        return {"margin": w.margin, "holding": w.holding, "shortage": w.shortage, "tilt": round(w.tilt(), 6)}

    return {
        "train_periods": {
            "first": cycle.train_periods[0].isoformat() if cycle.train_periods else None,
            "last": cycle.train_periods[-1].isoformat() if cycle.train_periods else None,
            "count": len(cycle.train_periods),
        },
        "holdout_periods": [p.isoformat() for p in cycle.holdout_periods],
        "before_by_period": list(cycle.before_by_period),
        "after_by_period": list(cycle.after_by_period),
        "change": cycle.change,
        "relative_change": _finite(cycle.relative_change),
        "t_statistic": _finite(cycle.t_statistic),
        "t_statistic_infinite": math.isinf(cycle.t_statistic),
        "cells_used": cycle.cells_used,
        "cells_skipped": cycle.cells_skipped,
        "items": items,
        "learner_weights": {"old": weights(cycle.old_weights), "new": weights(cycle.new_weights)},
        "credibility": {k: round(float(v), 6) for k, v in sorted(cycle.new_bias.credibility.items())},
        "forecast_method": FORECAST_METHOD if method == "backtest" else TRAILING_METHOD,
        "forecast_weeks": {name: used[name] for name in ("backtest", "trailing mean", "none")},
        "holding_rate_per_year": holding_rate,
    }


async def learn(
    session: AsyncSession, workspace_id: uuid.UUID, created_by: str = "", *, method: Method = "backtest"
) -> LearningCycleRow:
    """Runs one learning cycle on the workspace's feedback and records it; an accepted cycle sets the weights.

    ``method="trailing"`` gives every week the trailing stand-in instead of the backtest (to compare the two).
    """
    feedback = await _feedback(session, workspace_id)
    if not feedback:
        raise InvalidInput("No outcome feedback to learn from: import a feedback file first.", code="no_feedback")
    state = await state_of(session, workspace_id)
    spec = ConstraintsIn.model_validate(state.constraints or {})
    current = dict(state.weights or {})
    items = {item.id: item for _, item in feedback}
    last_week_end = max(f.period_start for f, _ in feedback) + timedelta(days=7)
    sales = await _sales(session, workspace_id, set(items), last_week_end)
    forecasts, used = await _forecasts(feedback, sales, spec.default_lead_time_weeks, method)
    rows = [_row(f, item, forecast) for (f, item), forecast in zip(feedback, forecasts, strict=True)]
    holding = {item.key: float(item.unit_cost or 0) * spec.holding_rate_per_year / 52.0 for item in items.values()}
    old_bias = BiasCorrection({str(k): float(v) for k, v in dict(current.get("item_bias", {})).items()})
    cycle = run_learning_cycle(rows, holding, weights=planner_weights(current), bias=old_bias)
    shortage = float(current.get("shortage", 1.0))
    old: dict[str, Any] = {
        "margin": float(current.get("margin", 1.0)),
        "holding": float(current.get("holding", 1.0)),
        "shortage": shortage,
        "item_bias": dict(old_bias.multipliers),
    }
    proposed = stored_weights(cycle.new_weights, cycle.new_bias, shortage)
    record = LearningCycleRow(
        workspace_id=workspace_id,
        accepted=cycle.accepted,
        reason=cycle.reason,
        old_weights=old,
        new_weights=proposed,
        objective_before=cycle.objective_before,
        objective_after=cycle.objective_after,
        details=_details(cycle, spec.holding_rate_per_year, len(items), used, method),
        created_by=created_by,
    )
    session.add(record)
    if cycle.accepted:
        state.weights = {**current, **proposed}
    await session.flush()
    return record


async def list_cycles(
    session: AsyncSession, workspace_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[list[LearningCycleRow], int]:
    """A workspace's learning cycles, newest first, and how many there are."""
    where = LearningCycleRow.workspace_id == workspace_id
    total = await session.scalar(select(func.count()).select_from(LearningCycleRow).where(where))
    query = select(LearningCycleRow).where(where).order_by(LearningCycleRow.created_at.desc(), LearningCycleRow.id)
    rows = (await session.scalars(query.limit(limit).offset(offset))).all()
    return list(rows), int(total or 0)
