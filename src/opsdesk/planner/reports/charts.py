"""Planner charts and the PDF report from stored runs: forecast with history and bands, plan against stock and
target, days of supply, the learning cycles' effect; drawn as PNG/SVG or Plotly figures, and bound into the report."""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import uuid
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.errors import InvalidInput, NotFound
from opsdesk.planner.learning import BiasCorrection, LearningCycle, PlannerWeights
from opsdesk.planner.models import PlannerItem, Sale
from opsdesk.planner.reports.excel import RecommendationLine
from opsdesk.planner.reports.measures import (
    ItemMeasures,
)
from opsdesk.planner.reports.plots import (
    Chart,
    ForecastView,
    days_of_supply_chart,
    forecast_chart,
    learning_chart,
    recommendation_chart,
    render_png,
    render_svg,
)
from opsdesk.planner.reports.service import (
    TRAILING_WEEKS,
    By,
    PlannerData,
    _as_date,
    _frame,
    _number,
    latest,
    load_data,
)
from opsdesk.planner.runs import forecasts, recommendations
from opsdesk.planner.runs.models import LearningCycleRow

if TYPE_CHECKING:  # pandas and the PDF module (fpdf) are imported where used, not with the routes
    from opsdesk.planner.reports.pdf import PlannerReport

ChartName = Literal["forecast", "recommendation", "days-of-supply", "learning"]
MAX_BARS = 40  # bar charts show at most this many items: the largest orders, or the fewest days of supply
_RENDER = threading.Lock()  # matplotlib's rc settings are process-wide: one figure at a time


async def forecast_view(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    key: str,
    *,
    run_id: uuid.UUID | None = None,
    level: Literal["item", "line", "total"] = "item",
    history_weeks: int = 52,
) -> ForecastView:
    """A series' stored forecast with the sales it was made from (the same periods, up to the run's last one)."""
    import pandas as pd

    run = await (
        forecasts.get_run(session, workspace_id, run_id) if run_id else forecasts.latest_run(session, workspace_id)
    )
    if run.status != "succeeded":
        raise NotFound(f"That forecast run is {run.status}; it has no forecast to draw yet.", code="forecast_not_ready")
    rows = await forecasts.series_of(session, run.id, level=level, key=key)
    if not rows:
        raise NotFound(f"The forecast run has no {level} series {key!r}.", code="no_series")
    query = select(Sale.sale_date, func.sum(Sale.quantity)).join(PlannerItem, PlannerItem.id == Sale.item_id)
    query = query.where(PlannerItem.workspace_id == workspace_id, PlannerItem.active.is_(True))
    if level != "total":
        query = query.where(PlannerItem.key == key if level == "item" else PlannerItem.model_line == key)
    sold = _frame([tuple(r) for r in (await session.execute(query.group_by(Sale.sale_date))).all()], ["ds", "y"])
    sold["ds"] = pd.to_datetime(sold["ds"]).dt.to_period(forecasts.FREQS[run.freq]).dt.start_time
    weekly = sold.groupby("ds")["y"].sum().astype(float)
    if run.history_end is not None:
        weekly = weekly[weekly.index <= pd.Timestamp(run.history_end.replace(tzinfo=None))]
    weekly = weekly.tail(history_weeks)
    values = rows[0].values

    def floats(name: str) -> list[float]:
        return [_number(v) for v in values.get(name) or []]

    return ForecastView(
        item=key,
        history_periods=[_as_date(d) for d in weekly.index],
        history=[float(v) for v in weekly.to_numpy()],
        periods=[date.fromisoformat(str(d)[:10]) for d in values.get("ds", [])],
        mean=floats("mean"),
        low_80=floats("lo80"),
        high_80=floats("hi80"),
        low_95=floats("lo95"),
        high_95=floats("hi95"),
    )


async def recommendation_view(session: AsyncSession, workspace_id: uuid.UUID, run_id: uuid.UUID | None) -> Chart:
    """Stock, order and target of the plan's largest orders (the newest plan unless a run is named)."""
    run = await (
        recommendations.get_recommendation(session, workspace_id, run_id)
        if run_id
        else recommendations.latest_recommendation(session, workspace_id)
    )
    lines = await recommendations.lines_of(session, run.id)
    shown = sorted(
        sorted(lines, key=lambda ln: (-ln.quantity, -float(ln.target.get("target", 0))))[:MAX_BARS],
        key=lambda ln: ln.item_key,
    )
    return recommendation_chart(
        [ln.item_key for ln in shown],
        [float(ln.target.get("on_hand", 0)) for ln in shown],
        [float(ln.quantity) for ln in shown],
        [float(ln.target.get("target", 0)) for ln in shown],
    )


def days_of_supply_view(data: PlannerData, by: By) -> Chart:
    """Days of supply in the newest snapshot week; with many keys, those with the fewest days."""
    _, measures = latest(data, by)
    known = [m for m in measures if not math.isnan(m.days_of_supply)]
    shown = sorted(sorted(known, key=lambda m: m.days_of_supply)[:MAX_BARS], key=lambda m: m.key)
    minimum = data.min_days_of_supply or None
    return days_of_supply_chart([m.key for m in shown], [m.days_of_supply for m in shown], minimum)


def _cycle(row: LearningCycleRow) -> LearningCycle:
    """A stored cycle as the learner's record (train periods are stored only as a count, so left empty)."""
    details = dict(row.details or {})
    learner = dict(details.get("learner_weights") or {})

    def weights(raw: Any) -> PlannerWeights:
        raw = dict(raw or {})
        return PlannerWeights(
            float(raw.get("margin", 1.0)), float(raw.get("holding", 1.0)), float(raw.get("shortage", 0.0))
        )

    return LearningCycle(
        old_weights=weights(learner.get("old")),
        new_weights=weights(learner.get("new")),
        old_bias=BiasCorrection(dict(row.old_weights.get("item_bias") or {})),
        new_bias=BiasCorrection(dict(row.new_weights.get("item_bias") or {})),
        accepted=row.accepted,
        reason=row.reason,
        train_periods=(),
        holdout_periods=tuple(date.fromisoformat(p) for p in details.get("holdout_periods") or []),
        objective_before=row.objective_before,
        objective_after=row.objective_after,
        before_by_period=tuple(float(v) for v in details.get("before_by_period") or []),
        after_by_period=tuple(float(v) for v in details.get("after_by_period") or []),
        t_statistic=_number(details.get("t_statistic")),
        cells_used=int(details.get("cells_used") or 0),
        cells_skipped=int(details.get("cells_skipped") or 0),
    )


async def learning_view(session: AsyncSession, workspace_id: uuid.UUID) -> Chart:
    """Every recorded cycle's held-out objective before and after, oldest first."""
    query = select(LearningCycleRow).where(LearningCycleRow.workspace_id == workspace_id)
    rows = (await session.scalars(query.order_by(LearningCycleRow.created_at, LearningCycleRow.id))).all()
    if not rows:
        raise NotFound("No learning cycles yet: POST …/planner/learning-cycles.", code="no_learning_cycle")
    return learning_chart([_cycle(row) for row in rows])


async def build_chart(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    name: ChartName,
    *,
    item: str | None = None,
    run_id: uuid.UUID | None = None,
    by: By = "item",
) -> Chart:
    """The named chart from the workspace's newest runs (or the run named: a forecast or a recommendation run)."""
    if name == "forecast":
        if not item:
            raise InvalidInput("The forecast chart needs item=<item key>.", code="item_required")
        return forecast_chart(await forecast_view(session, workspace_id, item, run_id=run_id))
    if name == "recommendation":
        return await recommendation_view(session, workspace_id, run_id)
    if name == "days-of-supply":
        return days_of_supply_view(await load_data(session, workspace_id), by)
    return await learning_view(session, workspace_id)


async def render(chart: Chart, fmt: Literal["png", "svg"]) -> bytes:
    """PNG or SVG bytes, drawn in a worker thread, one figure at a time."""

    categories = len({x for series in chart.series for x in series.x}) if chart.categorical else 0
    width = 8.0 if categories <= 15 else 14.0  # room for many item names; 16:9 either way (the PDF's frame)

    def draw() -> bytes:
        with _RENDER:
            if fmt == "png":
                return render_png(chart, width=width, height=width * 9 / 16)
            return render_svg(chart, width=width, height=width * 9 / 16)

    return await asyncio.to_thread(draw)


async def build_report(
    session: AsyncSession, workspace_id: uuid.UUID, *, title: str = "Order recommendation"
) -> tuple[PlannerReport, dict[str, Chart]]:
    """The newest plan as a report (table, item measures, charts) and its charts by name; 404 before any plan."""
    from opsdesk.planner.reports.pdf import Chart as PdfChart
    from opsdesk.planner.reports.pdf import PlannerReport

    run = await recommendations.latest_recommendation(session, workspace_id)
    items = {
        i.key: i
        for i in (await session.scalars(select(PlannerItem).where(PlannerItem.workspace_id == workspace_id))).all()
    }
    lines = []
    for line in await recommendations.lines_of(session, run.id):
        item = items.get(line.item_key)
        cost = Decimal(str(item.unit_cost)) if item is not None and item.unit_cost is not None else Decimal(0)
        description = " ".join(p for p in ((item.name, item.variant) if item else ()) if p)
        lines.append(RecommendationLine(line.item_key, line.model_line, description, line.quantity, cost, line.reason))
    data = await load_data(session, workspace_id)
    period, measures = latest(data, "item")
    charts = {"recommendation": await recommendation_view(session, workspace_id, run.id)}
    charts["days-of-supply"] = days_of_supply_view(data, "item")
    if await forecasts.series_of(session, run.forecast_run_id, level="total", key="total"):
        view = await forecast_view(session, workspace_id, "total", run_id=run.forecast_run_id, level="total")
        charts["forecast"] = forecast_chart(view)
    with contextlib.suppress(NotFound):
        charts["learning"] = await learning_view(session, workspace_id)
    pngs = [PdfChart(chart.title, await render(chart, "png")) for chart in charts.values()]
    currency = str(run.constraints.get("currency") or "")
    notes = [
        f"Plan {run.id} ({run.status}) from forecast run {run.forecast_run_id}: {run.totals.get('units', 0)} units, "
        f"cost {float(run.totals.get('cost', 0)):,.2f} {currency}.",
        f"Measures for the week of {period.isoformat()} (weeks start on Monday); days of supply use the last "
        f"{TRAILING_WEEKS} weeks' sales, days to turn the feedback of those weeks; '-' means the data cannot tell.",
    ]
    if run.infeasibility:
        notes.append(str(run.infeasibility.get("message", "")))
    measured = [
        ItemMeasures(m.key, m.period, m.sold, m.stock, m.sales_velocity, m.days_of_supply, m.days_to_turn)
        for m in measures
    ]
    issued = run.created_at.date()
    report = PlannerReport(title, issued, lines, measured, pngs, currency, tuple(notes))
    return report, charts


async def report_pdf(session: AsyncSession, workspace_id: uuid.UUID, *, title: str = "Order recommendation") -> bytes:
    """The newest plan's PDF report."""
    from opsdesk.planner.reports.pdf import planner_report_pdf

    report, _ = await build_report(session, workspace_id, title=title)
    return await asyncio.to_thread(planner_report_pdf, report)
