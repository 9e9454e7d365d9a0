"""Recommendation runs: the newest forecast, stock on the lot, the workspace's constraints and learned weights go
into one optimisation (planner.optimisation); the plan, or its conflict and smallest relaxation, is stored."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.errors import InvalidInput, NotFound
from opsdesk.planner.models import Allocation, InventoryUnit, OnOrder, PlannerItem
from opsdesk.planner.optimisation import (
    Constraints,
    DemandForecast,
    MixShare,
    PlanItem,
    Problem,
    Recommendation,
    Weights,
    solve,
)
from opsdesk.planner.reports.excel import RecommendationLine as ExportLine
from opsdesk.planner.reports.excel import recommendation_workbook
from opsdesk.planner.runs.forecasts import get_run, latest_run, series_of
from opsdesk.planner.runs.models import PlannerState, RecommendationLineRow, RecommendationRun
from opsdesk.planner.runs.schemas import ConstraintsIn


async def state_of(session: AsyncSession, workspace_id: uuid.UUID) -> PlannerState:
    state = await session.get(PlannerState, workspace_id)
    if state is None:
        state = PlannerState(workspace_id=workspace_id, constraints={}, weights={})
        session.add(state)
        await session.flush()
    return state


async def save_constraints(session: AsyncSession, workspace_id: uuid.UUID, constraints: ConstraintsIn) -> PlannerState:
    state = await state_of(session, workspace_id)
    state.constraints = constraints.model_dump(mode="json")
    return state


def weights_from(data: dict[str, Any]) -> Weights:
    return Weights(
        margin=float(data.get("margin", 1.0)),
        holding=float(data.get("holding", 1.0)),
        shortage=float(data.get("shortage", 1.0)),
        item_bias={str(k): float(v) for k, v in dict(data.get("item_bias", {})).items()},
    )


def _constraints(spec: ConstraintsIn) -> Constraints:
    return Constraints(
        budget=spec.budget,
        lot_space=spec.lot_space,
        allocation=dict(spec.allocation),
        mix=tuple(MixShare(m.line, m.min_share, m.max_share, m.basis) for m in spec.mix),
        min_days_of_supply=spec.min_days_of_supply,
        holding_rate_per_year=spec.holding_rate_per_year,
        currency=spec.currency,
    )


def _array(values: dict[str, Any], name: str) -> list[float] | None:
    raw = values.get(name)
    if raw is None:
        return None
    return [0.0 if v is None else max(0.0, float(v)) for v in raw]


def _signed(values: dict[str, Any], name: str) -> list[float] | None:
    """A stored sample as it is (backtest errors are signed; runs stored before they were kept have none)."""
    raw = values.get(name)
    if not raw:
        return None
    return [float(v) for v in raw if v is not None]


async def _stock(session: AsyncSession, workspace_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Units on the lot per item in the newest inventory snapshot."""
    latest = await session.scalar(
        select(func.max(InventoryUnit.snapshot_date)).where(InventoryUnit.workspace_id == workspace_id)
    )
    if latest is None:
        return {}
    rows = await session.execute(
        select(InventoryUnit.item_id, func.sum(InventoryUnit.quantity))
        .where(InventoryUnit.workspace_id == workspace_id, InventoryUnit.snapshot_date == latest)
        .group_by(InventoryUnit.item_id)
    )
    return {item_id: int(total) for item_id, total in rows.all()}


async def _on_order(session: AsyncSession, workspace_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Units ordered and not yet on the lot: expected from the newest snapshot's week on (or from today without one)."""
    since = await session.scalar(
        select(func.max(InventoryUnit.snapshot_date)).where(InventoryUnit.workspace_id == workspace_id)
    )
    query = select(OnOrder.item_id, func.sum(OnOrder.quantity)).where(OnOrder.workspace_id == workspace_id)
    query = query.where(OnOrder.expected_week >= (since or func.current_date()))
    rows = await session.execute(query.group_by(OnOrder.item_id))
    return {item_id: int(total) for item_id, total in rows.all()}


async def _allocations(session: AsyncSession, workspace_id: uuid.UUID) -> dict[str, int]:
    """The maker's allocation per model line in its newest period (used when the constraints name none)."""
    latest = await session.scalar(select(func.max(Allocation.period)).where(Allocation.workspace_id == workspace_id))
    if latest is None:
        return {}
    rows = await session.execute(
        select(Allocation.model_line, func.sum(Allocation.max_units))
        .where(Allocation.workspace_id == workspace_id, Allocation.period == latest, Allocation.model_line != "")
        .group_by(Allocation.model_line)
    )
    return {line: int(units) for line, units in rows.all()}


async def build_problem(
    session: AsyncSession, workspace_id: uuid.UUID, forecast_run_id: uuid.UUID, spec: ConstraintsIn, weights: Weights
) -> tuple[Problem, dict[str, str]]:
    """The optimisation problem of a workspace, and each item's model line."""
    series = {row.key: row for row in await series_of(session, forecast_run_id, level="item")}
    items = (
        await session.scalars(
            select(PlannerItem).where(PlannerItem.workspace_id == workspace_id, PlannerItem.active.is_(True))
        )
    ).all()
    stock = await _stock(session, workspace_id)
    on_order = await _on_order(session, workspace_id)
    plan_items: list[PlanItem] = []
    lines: dict[str, str] = {}
    for item in sorted(items, key=lambda i: i.key):
        row = series.get(item.key)
        if row is None:
            continue  # no sales history: nothing to forecast from, so nothing to recommend
        values = row.values
        mean = _array(values, "mean") or []
        forecast = DemandForecast.of(
            mean,
            lo80=_array(values, "lo80"),
            hi80=_array(values, "hi80"),
            lo95=_array(values, "lo95"),
            hi95=_array(values, "hi95"),
            residuals=_signed(values, "residuals"),
            recent_demand=_signed(values, "recent_demand"),
            whole_units=bool(values.get("whole_units", False)),
        )
        lead = float(item.lead_time_weeks) if item.lead_time_weeks is not None else spec.default_lead_time_weeks
        plan_items.append(
            PlanItem(
                id=item.key,
                line=item.model_line or "(no line)",
                unit_cost=float(item.unit_cost or 0),
                unit_price=float(item.unit_price or 0),
                forecast=forecast,
                lead_time_weeks=lead,
                review_weeks=spec.review_weeks,
                on_hand=stock.get(item.id, 0),
                on_order=on_order.get(item.id, 0),
                pack=max(1, item.pack_multiple),
                space=float(item.lot_spaces),
                name=item.name or item.key,
            )
        )
        lines[item.key] = item.model_line
    if not plan_items:
        raise InvalidInput("No active item has a forecast in this run.", code="nothing_to_plan")
    constraints = _constraints(spec)
    if not constraints.allocation:
        constraints = Constraints(**{**asdict(constraints), "allocation": await _allocations(session, workspace_id)})
    return Problem(items=tuple(plan_items), constraints=constraints, weights=weights), lines


def _line_row(run_id: uuid.UUID, line: Any, model_line: str) -> RecommendationLineRow:
    target = line.target
    return RecommendationLineRow(
        run_id=run_id,
        item_key=line.item_id,
        model_line=model_line,
        quantity=line.quantity,
        packs=line.packs,
        target={
            "expected_demand": round(target.expected_demand, 3),
            "safety_stock": round(target.safety_stock, 3),
            "target": target.target,
            "on_hand": target.on_hand,
            "on_order": target.on_order,
            "critical_ratio": round(target.critical_ratio, 4),
            "protection_weeks": target.protection_weeks,
            "error_source": str(target.error_source),
        },
        stock_after=line.stock_after,
        days_of_supply_after=None if line.days_of_supply_after == float("inf") else line.days_of_supply_after,
        expected_gross_profit=line.expected_gross_profit,
        cost=line.cost,
        bound_by=list(line.bound_by),
        reason=line.reason,
    )


def _infeasibility(result: Recommendation) -> dict[str, Any] | None:
    info = result.infeasibility
    if info is None:
        return None
    return {
        "conflicting": list(info.conflicting),
        "message": info.message,
        "relaxations": [
            {"text": r.text, "size": r.size, "changes": [asdict(c) for c in r.changes]} for r in info.relaxations
        ],
    }


async def recommend(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    forecast_run_id: uuid.UUID | None = None,
    constraints: ConstraintsIn | None = None,
    base_run_id: uuid.UUID | None = None,
    created_by: str = "",
) -> RecommendationRun:
    """Solves and stores one recommendation run (constraints: the given ones, else the workspace's)."""
    state = await state_of(session, workspace_id)
    run = (
        await get_run(session, workspace_id, forecast_run_id)
        if forecast_run_id is not None
        else await latest_run(session, workspace_id)
    )
    if run.status != "succeeded":
        message = f"That forecast run is {run.status}; recommend from a finished one."
        raise InvalidInput(message, code="forecast_not_ready")
    spec = constraints or ConstraintsIn.model_validate(state.constraints or {})
    weights = weights_from(state.weights or {})
    problem, lines = await build_problem(session, workspace_id, run.id, spec, weights)
    result = await asyncio.to_thread(solve, problem)
    record = RecommendationRun(
        workspace_id=workspace_id,
        forecast_run_id=run.id,
        base_run_id=base_run_id,
        status=result.status,
        constraints=spec.model_dump(mode="json"),
        weights={"margin": weights.margin, "holding": weights.holding, "shortage": weights.shortage,
                 "item_bias": dict(weights.item_bias)},
        totals=asdict(result.totals),
        usage=[asdict(u) for u in result.usage],
        infeasibility=_infeasibility(result),
        stats=asdict(result.stats),
        created_by=created_by,
    )  # fmt: skip
    session.add(record)
    await session.flush()
    session.add_all(_line_row(record.id, line, lines.get(line.item_id, "")) for line in result.lines)
    await session.flush()
    return record


async def get_recommendation(session: AsyncSession, workspace_id: uuid.UUID, run_id: uuid.UUID) -> RecommendationRun:
    run = await session.get(RecommendationRun, run_id)
    if run is None or run.workspace_id != workspace_id:
        raise NotFound("No such recommendation run in this workspace.")
    return run


async def latest_recommendation(session: AsyncSession, workspace_id: uuid.UUID) -> RecommendationRun:
    run = await session.scalar(
        select(RecommendationRun)
        .where(RecommendationRun.workspace_id == workspace_id, RecommendationRun.base_run_id.is_(None))
        .order_by(RecommendationRun.created_at.desc())
        .limit(1)
    )
    if run is None:
        raise NotFound("No recommendation yet: POST …/planner/recommendations.", code="no_recommendation")
    return run


async def lines_of(session: AsyncSession, run_id: uuid.UUID) -> list[RecommendationLineRow]:
    query = select(RecommendationLineRow).where(RecommendationLineRow.run_id == run_id)
    return list((await session.scalars(query.order_by(RecommendationLineRow.item_key))).all())


def workbook_filename(run: RecommendationRun) -> str:
    """What a downloaded plan is called (the API's export and the console's download)."""
    return f"recommendation-{run.id}.xlsx"


async def workbook(session: AsyncSession, workspace_id: uuid.UUID, run: RecommendationRun) -> bytes:
    """The plan as an .xlsx, one row per item to order with its description, unit cost and reason (values only)."""
    items = {
        item.key: item
        for item in (await session.scalars(select(PlannerItem).where(PlannerItem.workspace_id == workspace_id))).all()
    }
    rows = []
    for line in await lines_of(session, run.id):
        item = items.get(line.item_key)
        unit_cost = Decimal(str(item.unit_cost)) if item and item.unit_cost is not None else Decimal(0)
        description = " ".join(part for part in ((item.name, item.variant) if item else ()) if part)
        rows.append(ExportLine(line.item_key, line.model_line, description, line.quantity, unit_cost, line.reason))
    return recommendation_workbook(rows, title=f"Order recommendation {run.created_at:%Y-%m-%d}")


@dataclass(frozen=True)
class WhatIfResult:
    """A what-if run beside its base: the lines whose quantity moved (item, before, after) and the totals' change."""

    base: RecommendationRun
    changed: RecommendationRun
    moved: list[tuple[str, int, int]]

    def total(self, name: str) -> tuple[float, float]:
        return float(self.base.totals.get(name, 0.0)), float(self.changed.totals.get(name, 0.0))

    @property
    def objective_delta(self) -> float:
        before, after = self.total("objective")
        return after - before


async def what_if(
    session: AsyncSession, workspace_id: uuid.UUID, base_run_id: uuid.UUID, changes: dict[str, Any], created_by: str
) -> WhatIfResult:
    """Re-solves the base run's problem with some constraints changed, stored as a run that names its base."""
    base = await get_recommendation(session, workspace_id, base_run_id)
    try:
        spec = ConstraintsIn.model_validate({**base.constraints, **changes})
    except ValueError as exc:
        raise InvalidInput(f"The changes are not valid constraints: {exc}", code="invalid_changes") from exc
    changed = await recommend(
        session,
        workspace_id,
        forecast_run_id=base.forecast_run_id,
        constraints=spec,
        base_run_id=base.id,
        created_by=created_by,
    )
    before = {line.item_key: line.quantity for line in await lines_of(session, base.id)}
    after = await lines_of(session, changed.id)
    moved = [(row.item_key, before.get(row.item_key, 0), row.quantity) for row in after]
    moved = [change for change in moved if change[1] != change[2]]
    return WhatIfResult(base, changed, moved)
