"""Dealer measures: days to turn, days of supply, sales velocity, mix gap, allocation use and aged stock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # pandas is imported where frames are built (a third of a second at import)
    import pandas as pd

FloatArray = npt.NDArray[np.float64]
AGE_EDGES = (30, 60, 90)  # days on lot: 0-30, 31-60, 61-90, 91+


def days_of_supply(stock: npt.ArrayLike, daily_sales: npt.ArrayLike) -> FloatArray:
    """Days the stock lasts at the daily sales rate: stock / rate; 0 with no stock, infinite with stock but no sales."""
    units, rate = np.asarray(stock, dtype=np.float64), np.asarray(daily_sales, dtype=np.float64)
    ratio = np.divide(units, rate, out=np.full(np.broadcast(units, rate).shape, np.inf), where=rate > 0)
    return np.asarray(np.where(units <= 0, 0.0, ratio), dtype=np.float64)


def sales_velocity(sold: npt.ArrayLike, average_stock: npt.ArrayLike) -> FloatArray:
    """SVA: units sold in a period / average units in stock over it; NaN when there was no stock."""
    units, stock = np.asarray(sold, dtype=np.float64), np.asarray(average_stock, dtype=np.float64)
    return np.asarray(
        np.divide(units, stock, out=np.full(np.broadcast(units, stock).shape, np.nan), where=stock > 0),
        dtype=np.float64,
    )


def days_to_turn(days_on_lot_at_sale: npt.ArrayLike) -> float:
    """Average days a sold unit spent on the lot (from arrival to sale); NaN when nothing was sold."""
    days = np.asarray(days_on_lot_at_sale, dtype=np.float64)
    return float(days.mean()) if days.size else float("nan")


def allocation_use(ordered: npt.ArrayLike, allocated: npt.ArrayLike) -> FloatArray:
    """Share of the maker's allocation taken up: ordered / allocated; NaN where nothing was allocated."""
    taken, offered = np.asarray(ordered, dtype=np.float64), np.asarray(allocated, dtype=np.float64)
    return np.asarray(
        np.divide(taken, offered, out=np.full(np.broadcast(taken, offered).shape, np.nan), where=offered > 0),
        dtype=np.float64,
    )


@dataclass(frozen=True)
class MixGap:
    """One group's share of units beside its target share."""

    key: str
    units: float
    share: float
    target_share: float
    gap_share: float  # share - target share: positive is over-stocked against the target mix
    gap_units: float  # units - target share x total units


def mix_gap(units: Mapping[str, float], target_shares: Mapping[str, float]) -> list[MixGap]:
    """Gap to the target mix for every key in either mapping (a key without a target has target 0)."""
    keys = sorted(set(units) | set(target_shares))
    total = float(sum(units.values()))
    gaps: list[MixGap] = []
    for key in keys:
        count = float(units.get(key, 0.0))
        share = count / total if total > 0 else 0.0
        target = float(target_shares.get(key, 0.0))
        gaps.append(MixGap(key, count, share, target, share - target, count - target * total))
    return gaps


def age_labels(edges: Sequence[int] = AGE_EDGES) -> tuple[str, ...]:
    """Bucket names for the edges, e.g. 0-30, 31-60, 61-90, 91+."""
    lows = [0, *(edge + 1 for edge in edges)]
    return (*(f"{low}-{high}" for low, high in zip(lows, edges, strict=False)), f"{lows[-1]}+")


def aged_stock(days_on_lot: npt.ArrayLike, edges: Sequence[int] = AGE_EDGES) -> dict[str, int]:
    """Units on hand per age bucket; a unit of exactly 30 days is in 0-30."""
    days = np.asarray(days_on_lot, dtype=np.float64)
    bucket = np.searchsorted(np.asarray(edges, dtype=np.float64), days, side="left")
    counts = np.bincount(bucket, minlength=len(edges) + 1)
    return {label: int(count) for label, count in zip(age_labels(edges), counts, strict=True)}


def measures_over_time(
    sales: pd.DataFrame,
    stock: pd.DataFrame,
    lines: Mapping[str, str],
    *,
    by: Literal["item", "line"] = "item",
    trailing_periods: int = 4,
    period_days: int = 7,
    unit_sales: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per item (or model line) and period: sold, closing stock, SVA, days of supply and days to turn.

    sales: item, period, quantity. stock: item, period, units (on hand at the period's end). unit_sales (optional):
    item, period, days_on_lot, one row per unit sold. SVA divides by the average of opening (the previous
    period's closing) and closing stock; days of supply divides closing stock by the average daily sales of the
    last ``trailing_periods`` periods; days to turn is NaN without unit sales. A period with sales but no stock
    row counts as no stock on hand.
    """
    frame = _panel(sales, stock, lines, by)
    keys = frame.groupby("key", sort=True)
    opening = keys["stock"].shift(1).fillna(frame["stock"])
    rate = keys["sold"].transform(lambda s: s.rolling(trailing_periods, min_periods=1).mean()) / period_days
    frame["sva"] = sales_velocity(frame["sold"].to_numpy(), ((opening + frame["stock"]) / 2).to_numpy())
    frame["days_of_supply"] = days_of_supply(frame["stock"].to_numpy(), rate.to_numpy())
    frame["days_to_turn"] = np.nan
    if unit_sales is not None and len(unit_sales):
        units = unit_sales.assign(key=unit_sales["item"].map(_key_of(lines, by)))
        turn = units.groupby(["key", "period"])["days_on_lot"].mean().rename("turn")
        frame = frame.join(turn, on=["key", "period"])
        frame["days_to_turn"] = frame.pop("turn")
    return frame.reset_index(drop=True)


def _key_of(lines: Mapping[str, str], by: str) -> Mapping[str, str] | dict[str, str]:
    return lines if by == "line" else {item: item for item in lines}


def _panel(sales: pd.DataFrame, stock: pd.DataFrame, lines: Mapping[str, str], by: str) -> pd.DataFrame:
    sold = sales.groupby(["item", "period"], as_index=False)["quantity"].sum().rename(columns={"quantity": "sold"})
    units = stock.groupby(["item", "period"], as_index=False)["units"].sum().rename(columns={"units": "stock"})
    frame = sold.merge(units, on=["item", "period"], how="outer").fillna({"sold": 0.0, "stock": 0.0})
    unknown = sorted(set(frame["item"]) - set(lines))
    if unknown:
        raise ValueError(f"items without a model line: {', '.join(map(str, unknown[:5]))}")
    frame["key"] = frame["item"].map(lines) if by == "line" else frame["item"]
    frame = frame.groupby(["key", "period"], as_index=False)[["sold", "stock"]].sum()
    return frame.sort_values(["key", "period"]).reset_index(drop=True)


@dataclass(frozen=True)
class ItemMeasures:
    """One item's (or model line's) latest measures, as a report shows them."""

    key: str
    period: date
    sold: float
    stock: float
    sales_velocity: float
    days_of_supply: float
    days_to_turn: float


def latest_measures(table: pd.DataFrame) -> list[ItemMeasures]:
    """The last period of each key in a ``measures_over_time`` table."""
    last = table.sort_values(["key", "period"]).groupby("key", sort=True).tail(1)
    return [
        ItemMeasures(
            key=str(row.key),
            period=_as_date(row.period),
            sold=float(row.sold),
            stock=float(row.stock),
            sales_velocity=float(row.sva),
            days_of_supply=float(row.days_of_supply),
            days_to_turn=float(row.days_to_turn),
        )
        for row in last.itertuples(index=False)
    ]


def _as_date(value: object) -> date:
    import pandas as pd

    if isinstance(value, date) and not isinstance(value, pd.Timestamp):
        return value
    stamp: pd.Timestamp = pd.Timestamp(str(value))
    return date(stamp.year, stamp.month, stamp.day)
