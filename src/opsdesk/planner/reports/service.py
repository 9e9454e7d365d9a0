"""Planner reports from stored rows: dealer measures per item or model line, the charts and the PDF report.

Weeks start on Monday. A sale counts in the week its date falls in; an allocation in the week it starts; a stock
snapshot is the closing stock of the week holding the day before it (a Monday-morning count closes the week before).
Stock-based measures (stock, SVA, days of supply) exist only in weeks a snapshot closes: in a snapshot an item with
no unit has 0 on hand, in any other week its stock is unknown (NaN), never assumed. SVA divides the week's sales by
the average of opening and closing stock when the week before is also a snapshot week, else by the closing stock.
Days of supply divide closing stock by the daily sales of the last ``TRAILING_WEEKS`` weeks; days to turn are the
feedback's days to turn weighted by units sold (per week in the history; over the trailing weeks in the latest).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.errors import NotFound
from opsdesk.planner.models import Allocation, InventoryUnit, OutcomeFeedback, PlannerItem, Sale
from opsdesk.planner.reports.measures import (
    MixGap,
    aged_stock,
    allocation_use,
    days_to_turn,
    measures_over_time,
    mix_gap,
    sales_velocity,
)
from opsdesk.planner.runs.models import PlannerState, RecommendationLineRow, RecommendationRun

if TYPE_CHECKING:  # pandas is imported where frames are built (a third of a second at import)
    import pandas as pd

By = Literal["item", "line"]
TRAILING_WEEKS = 4
WEEK = timedelta(days=7)
NO_LINE = "(no line)"
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PlannerData:
    """A workspace's rows the measures are computed from (frames: item keys, Monday week starts as Timestamps)."""

    lines: dict[str, str]  # item key -> model line
    sales: pd.DataFrame  # item, period, quantity
    stock: pd.DataFrame  # item, period, units, days_on_lot (one row per inventory row; days may be NaN)
    feedback: pd.DataFrame  # item, period, ordered, sold, days_to_turn
    allocations: pd.DataFrame  # period, model_line, item_key, max_units
    mix: dict[str, tuple[float, float]] = field(default_factory=dict)  # line -> (min share, max share)
    planned: dict[str, int] = field(default_factory=dict)  # the latest recommendation: item -> order quantity
    plan_allocation: dict[str, int] = field(default_factory=dict)  # line -> allocation that plan was made under
    plan_id: uuid.UUID | None = None
    min_days_of_supply: float = 0.0


@dataclass(frozen=True)
class KeyMeasures:
    """One item's or model line's latest measures; NaN where the data cannot tell, inf days of supply: no sales."""

    key: str
    period: date
    sold: float
    stock: float
    sales_velocity: float
    days_of_supply: float
    days_to_turn: float
    aged_stock: dict[str, int]
    unknown_age: int
    allocated: float | None
    planned: float | None
    allocation_use: float | None
    mix: MixGap | None
    mix_bounds: tuple[float, float] | None


@dataclass(frozen=True)
class HistoryPoint:
    """One week of one item's or line's measures (NaN where the data cannot tell)."""

    period: date
    sold: float
    stock: float
    sales_velocity: float
    days_of_supply: float
    days_to_turn: float
    ordered: float
    allocated: float
    allocation_use: float


def week_start(days: pd.Series) -> pd.Series:
    """The Monday each date's week starts on, as Timestamps."""
    import pandas as pd

    stamps = pd.to_datetime(days)
    return stamps - pd.to_timedelta(stamps.dt.weekday, unit="D")


def _frame(rows: list[tuple[Any, ...]], columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(rows, columns=columns) if rows else pd.DataFrame({name: [] for name in columns})


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


async def load_data(session: AsyncSession, workspace_id: uuid.UUID) -> PlannerData:
    """Everything the measures need, or a 404 when the workspace has neither sales nor stock."""
    items = (
        await session.execute(
            select(PlannerItem.id, PlannerItem.key, PlannerItem.model_line).where(
                PlannerItem.workspace_id == workspace_id
            )
        )
    ).all()
    keys = {item_id: key for item_id, key, _ in items}
    lines = {key: line or NO_LINE for _, key, line in items}
    sold = await session.execute(
        select(Sale.item_id, Sale.sale_date, func.sum(Sale.quantity))
        .where(Sale.workspace_id == workspace_id)
        .group_by(Sale.item_id, Sale.sale_date)
    )
    sales = _frame([(keys[i], d, float(q)) for i, d, q in sold.all()], ["item", "period", "quantity"])
    units = await session.execute(
        select(
            InventoryUnit.item_id, InventoryUnit.snapshot_date, InventoryUnit.quantity, InventoryUnit.days_on_lot
        ).where(InventoryUnit.workspace_id == workspace_id)
    )
    stock = _frame(
        [(keys[i], d - timedelta(days=1), float(q), _number(age)) for i, d, q, age in units.all()],
        ["item", "period", "units", "days_on_lot"],
    )
    if not len(sales) and not len(stock):
        raise NotFound("No sales or inventory yet: import them with POST …/planner/imports.", code="no_data")
    outcomes = await session.execute(
        select(
            OutcomeFeedback.item_id,
            OutcomeFeedback.period_start,
            OutcomeFeedback.ordered,
            OutcomeFeedback.sold,
            OutcomeFeedback.days_to_turn,
        ).where(OutcomeFeedback.workspace_id == workspace_id)
    )
    feedback = _frame(
        [(keys[i], d, _number(o), _number(s), _number(t)) for i, d, o, s, t in outcomes.all()],
        ["item", "period", "ordered", "sold", "days_to_turn"],
    )
    offered = await session.execute(
        select(Allocation.period, Allocation.model_line, Allocation.item_key, Allocation.max_units).where(
            Allocation.workspace_id == workspace_id
        )
    )
    allocations = _frame([tuple(row) for row in offered.all()], ["period", "model_line", "item_key", "max_units"])
    for frame in (sales, stock, feedback, allocations):
        frame["period"] = week_start(frame["period"])
    state = await session.get(PlannerState, workspace_id)
    constraints: dict[str, Any] = dict(state.constraints or {}) if state else {}
    mix = {str(m["line"]): (float(m["min_share"]), float(m["max_share"])) for m in constraints.get("mix", [])}
    plan = await session.scalar(
        select(RecommendationRun)
        .where(RecommendationRun.workspace_id == workspace_id, RecommendationRun.base_run_id.is_(None))
        .order_by(RecommendationRun.created_at.desc())
        .limit(1)
    )
    planned: dict[str, int] = {}
    plan_allocation: dict[str, int] = {}
    if plan is not None:
        rows = await session.execute(
            select(RecommendationLineRow.item_key, RecommendationLineRow.quantity).where(
                RecommendationLineRow.run_id == plan.id
            )
        )
        planned = {key: int(quantity) for key, quantity in rows.all()}
        plan_allocation = {str(k): int(v) for k, v in dict(plan.constraints.get("allocation") or {}).items()}
        if not plan_allocation and len(allocations):  # the plan used the maker's newest allocation
            newest = allocations[allocations["period"] == allocations["period"].max()]
            by_line = newest[newest["model_line"] != ""].groupby("model_line")["max_units"].sum()
            plan_allocation = {str(k): int(v) for k, v in by_line.items()}
    return PlannerData(
        lines=lines,
        sales=sales,
        stock=stock,
        feedback=feedback,
        allocations=allocations,
        mix=mix,
        planned=planned,
        plan_allocation=plan_allocation,
        plan_id=plan.id if plan is not None else None,
        min_days_of_supply=float(constraints.get("min_days_of_supply") or 0.0),
    )


def _key_map(data: PlannerData, by: By) -> dict[str, str]:
    return dict(data.lines) if by == "line" else {item: item for item in data.lines}


def _dense_sales(data: PlannerData, last: pd.Timestamp, since: pd.Timestamp | None) -> pd.DataFrame:
    """Weekly sales per item from its first sale (or ``since``) to ``last``, a week without a row counting 0."""
    import pandas as pd

    sales = data.sales.groupby(["item", "period"], as_index=False)["quantity"].sum()
    if not len(sales):
        return sales
    first = sales.groupby("item")["period"].min()
    if since is not None:
        sales = sales[sales["period"] >= since]
    weeks = pd.date_range(since if since is not None else first.min(), last, freq="7D")
    full = pd.MultiIndex.from_product([sorted(first.index), weeks], names=["item", "period"])
    dense = sales.set_index(["item", "period"])["quantity"].reindex(full, fill_value=0.0).reset_index()
    return dense[dense["period"] >= dense["item"].map(first)].reset_index(drop=True)


def _snapshot_stock(data: PlannerData) -> pd.DataFrame:
    """Closing stock of every item in every snapshot week (0 for an item with no unit in that snapshot)."""
    import pandas as pd

    counted = data.stock.groupby(["item", "period"])["units"].sum()
    snapshots = sorted(set(data.stock["period"]))
    full = pd.MultiIndex.from_product([sorted(data.lines), snapshots], names=["item", "period"])
    return counted.reindex(full, fill_value=0.0).reset_index()


def measure_table(data: PlannerData, by: By, since: pd.Timestamp | None = None) -> pd.DataFrame:
    """Per key and week (from ``since``): sold, stock, sva, days_of_supply, days_to_turn, ordered, allocated and
    allocation_use; weeks before ``since`` are left out but an item's first sale still counts from its own date."""
    import pandas as pd

    last = max(frame["period"].max() for frame in (data.sales, data.stock) if len(frame))
    if since is not None:
        stock, feedback = data.stock[data.stock["period"] >= since], data.feedback[data.feedback["period"] >= since]
        data = replace(data, stock=stock, feedback=feedback)
    units = data.feedback[data.feedback["sold"] > 0]
    unit_sales = pd.DataFrame(
        {
            "item": np.repeat(units["item"].to_numpy(), units["sold"].astype(int).to_numpy()),
            "period": np.repeat(units["period"].to_numpy(), units["sold"].astype(int).to_numpy()),
            "days_on_lot": np.repeat(units["days_to_turn"].to_numpy(), units["sold"].astype(int).to_numpy()),
        }
    ).dropna()
    sales = _dense_sales(data, last, since)
    stock = _snapshot_stock(data)
    frame = measures_over_time(sales, stock, data.lines, by=by, trailing_periods=TRAILING_WEEKS, unit_sales=unit_sales)
    snapshots = set(stock["period"])
    known = frame["period"].isin(snapshots).to_numpy()
    closing = np.where(known, frame["stock"].to_numpy(dtype=float), np.nan)
    previous = frame["period"] - pd.Timedelta(WEEK)
    before = pd.MultiIndex.from_arrays([frame["key"], previous])
    opening = frame.set_index(["key", "period"])["stock"].reindex(before).to_numpy(dtype=float)
    opening = np.where(previous.isin(snapshots).to_numpy() & ~np.isnan(opening), opening, closing)
    frame["stock"] = closing
    frame["sva"] = np.where(known, sales_velocity(frame["sold"].to_numpy(), (opening + closing) / 2), np.nan)
    frame["days_of_supply"] = np.where(known, frame["days_of_supply"].to_numpy(dtype=float), np.nan)
    return _with_allocation(frame, data, by)


def _with_allocation(frame: pd.DataFrame, data: PlannerData, by: By) -> pd.DataFrame:
    keys = _key_map(data, by)
    feedback = data.feedback.assign(key=data.feedback["item"].map(keys))
    ordered = feedback.groupby(["key", "period"])["ordered"].sum(min_count=1).rename("ordered")
    column = "model_line" if by == "line" else "item_key"
    named = data.allocations[data.allocations[column] != ""]
    if by == "line":  # a row naming an item is that item's allocation, not its whole line's
        named = named[named["item_key"] == ""]
    allocated = named.groupby([column, "period"])["max_units"].sum().rename("allocated")
    allocated.index.names = ["key", "period"]
    frame = frame.join(ordered, on=["key", "period"]).join(allocated.astype(float), on=["key", "period"])
    frame["allocation_use"] = allocation_use(
        frame["ordered"].to_numpy(dtype=float), frame["allocated"].fillna(0.0).to_numpy(dtype=float)
    )
    return frame


def _as_date(value: Any) -> date:
    import pandas as pd

    stamp = pd.Timestamp(value)
    return date(stamp.year, stamp.month, stamp.day)


def latest(data: PlannerData, by: By) -> tuple[date, list[KeyMeasures]]:
    """The week of the newest snapshot (else the newest sales week) and each key's measures in it."""
    period = (data.stock if len(data.stock) else data.sales)["period"].max()
    table = measure_table(data, by, since=period - TRAILING_WEEKS * WEEK)
    keys = _key_map(data, by)
    rows = table[table["period"] == period]
    window = data.feedback[
        (data.feedback["period"] > period - TRAILING_WEEKS * WEEK)
        & (data.feedback["period"] <= period)
        & (data.feedback["sold"] > 0)
    ].dropna(subset=["days_to_turn"])
    newest = data.stock[data.stock["period"] == period]
    turns = _split(window["item"].map(keys), window["days_to_turn"], window["sold"])
    lots = _split(newest["item"].map(keys), newest["days_on_lot"], newest["units"])
    on_lot = {key: float(units.sum()) for key, (_, units) in lots.items()}
    mixes = {gap.key: gap for gap in mix_gap(on_lot, _targets(data))} if by == "line" else {}
    plans, allocations = _plan_allocation(data, by)
    nothing = (np.zeros(0), np.zeros(0))
    out: list[KeyMeasures] = []
    for row in rows.itertuples(index=False):
        key = str(row.key)
        turn_days, sold = turns.get(key, nothing)
        ages, units = lots.get(key, nothing)
        counted = np.rint(units).astype(int)
        known_age = ~np.isnan(ages)
        allocated = allocations.get(key)
        planned = plans.get(key, 0.0) if data.plan_id is not None else None
        use = float(allocation_use(planned, allocated)) if allocated is not None and planned is not None else None
        out.append(
            KeyMeasures(
                key=key,
                period=_as_date(row.period),
                sold=float(row.sold),
                stock=float(row.stock),
                sales_velocity=float(row.sva),
                days_of_supply=float(row.days_of_supply),
                days_to_turn=days_to_turn(np.repeat(turn_days, np.rint(sold).astype(int))),
                aged_stock=aged_stock(np.repeat(ages[known_age], counted[known_age])),
                unknown_age=int(counted[~known_age].sum()),
                allocated=allocated,
                planned=planned,
                allocation_use=None if use is None or math.isnan(use) else use,
                mix=mixes.get(key) if key in data.mix else None,
                mix_bounds=data.mix.get(key) if by == "line" else None,
            )
        )
    return _as_date(period), out


def _split(keys: pd.Series, *columns: pd.Series) -> dict[str, tuple[FloatArray, ...]]:
    """Each key's values of the columns, as float arrays (one sort, no per-key frame filtering)."""
    order = np.argsort(keys.to_numpy(dtype=str), kind="stable")
    names = keys.to_numpy(dtype=str)[order]
    unique, starts = np.unique(names, return_index=True)
    parts = [np.split(column.to_numpy(dtype=float)[order], starts[1:]) for column in columns]
    return {str(key): tuple(part[n] for part in parts) for n, key in enumerate(unique)}


def _targets(data: PlannerData) -> dict[str, float]:
    """A line's target share: the middle of its mix constraint's range."""
    return {line: (low + high) / 2 for line, (low, high) in data.mix.items()}


def _plan_allocation(data: PlannerData, by: By) -> tuple[dict[str, float], dict[str, float]]:
    """(planned, allocated) per key in the latest recommendation: a line's allocation, or an item's own one."""
    if data.plan_id is None:
        return {}, {}
    planned: dict[str, float] = {}
    for item, quantity in data.planned.items():
        key = data.lines.get(item, NO_LINE) if by == "line" else item
        planned[key] = planned.get(key, 0.0) + quantity
    if by == "line":
        return planned, {line: float(units) for line, units in data.plan_allocation.items()}
    newest = data.allocations[data.allocations["period"] == data.allocations["period"].max()]
    own = newest[newest["item_key"] != ""].groupby("item_key")["max_units"].sum()
    return planned, {str(item): float(units) for item, units in own.items()}


def history(data: PlannerData, by: By, key: str) -> list[HistoryPoint]:
    """One key's measures week by week, oldest first; a 404 for a key the workspace does not have."""
    import pandas as pd

    items = {item for item, line in data.lines.items() if (line if by == "line" else item) == key}
    rows = pd.DataFrame({"key": []})
    if items:
        only = replace(
            data,
            lines={item: data.lines[item] for item in items},
            sales=data.sales[data.sales["item"].isin(items)],
            stock=data.stock[data.stock["item"].isin(items)],
            feedback=data.feedback[data.feedback["item"].isin(items)],
        )
        if len(only.sales) or len(only.stock):
            table = measure_table(only, by)
            rows = table[table["key"] == key]
    if not len(rows):
        raise NotFound(f"No {by} {key!r} with sales or stock in this workspace.", code="no_such_key")
    return [
        HistoryPoint(
            period=_as_date(row.period),
            sold=float(row.sold),
            stock=float(row.stock),
            sales_velocity=float(row.sva),
            days_of_supply=float(row.days_of_supply),
            days_to_turn=float(row.days_to_turn),
            ordered=float(row.ordered),
            allocated=float(row.allocated),
            allocation_use=float(row.allocation_use),
        )
        for row in rows.sort_values("period").itertuples(index=False)
    ]
