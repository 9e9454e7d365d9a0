"""What the planner's measure endpoints return: a measure the data cannot tell is null, never a made-up zero."""

from __future__ import annotations

import math
import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from opsdesk.auth.schemas import Page
from opsdesk.planner.reports.service import TRAILING_WEEKS, HistoryPoint, KeyMeasures

DEFINITIONS = {
    "week": "Weeks start on Monday; an inventory snapshot is the closing stock of the week before its date's day.",
    "stock": "Units on hand in the week's closing snapshot; null in a week no snapshot closes.",
    "sales_velocity": "SVA: units sold in the week / average of opening and closing stock (closing stock alone when "
    "the week before has no snapshot); null without stock.",
    "days_of_supply": f"Closing stock / average daily sales of the last {TRAILING_WEEKS} weeks; null with stock but "
    "no recent sales (see no_recent_sales) or without a snapshot.",
    "days_to_turn": "Days a sold unit spent on the lot, from the outcome feedback, weighted by units sold "
    f"(latest: the last {TRAILING_WEEKS} weeks; history: the week); null when nothing was sold.",
    "aged_stock": "Units in the newest snapshot by days on lot; unknown_age counts units without days on lot.",
    "allocation": "Latest: the newest plan's order units / the maker's allocation it was made under. History: "
    "units ordered (feedback) / the allocation of that week.",
    "mix": "Model lines only: share of the units on the lot beside the target share (the middle of the line's mix "
    "constraint range); gap_share > 0 is over the target.",
}


def finite(value: float | None) -> float | None:
    """JSON has no NaN or infinity: both become null (the definitions say what null means)."""
    return value if value is not None and math.isfinite(value) else None


class AllocationOut(BaseModel):
    allocated: float | None
    planned: float | None
    use: float | None


class MixOut(BaseModel):
    units: float
    share: float
    target_share: float
    min_share: float
    max_share: float
    gap_share: float
    gap_units: float


class KeyMeasuresOut(BaseModel):
    key: str
    period: date
    sold: float
    stock: float | None
    sales_velocity: float | None
    days_of_supply: float | None
    no_recent_sales: bool = Field(description="Stock on hand but no sales in the trailing weeks: supply unbounded.")
    days_to_turn: float | None
    aged_stock: dict[str, int]
    unknown_age: int
    allocation: AllocationOut | None
    mix: MixOut | None

    @classmethod
    def of(cls, m: KeyMeasures) -> KeyMeasuresOut:
        mix = None
        if m.mix is not None and m.mix_bounds is not None:
            g = m.mix
            mix = MixOut(
                units=g.units,
                share=g.share,
                target_share=g.target_share,
                min_share=m.mix_bounds[0],
                max_share=m.mix_bounds[1],
                gap_share=g.gap_share,
                gap_units=g.gap_units,
            )
        allocation = None
        if m.allocated is not None or m.planned is not None:
            allocation = AllocationOut(allocated=m.allocated, planned=m.planned, use=finite(m.allocation_use))
        return cls(
            key=m.key,
            period=m.period,
            sold=m.sold,
            stock=finite(m.stock),
            sales_velocity=finite(m.sales_velocity),
            days_of_supply=finite(m.days_of_supply),
            no_recent_sales=math.isinf(m.days_of_supply),
            days_to_turn=finite(m.days_to_turn),
            aged_stock=m.aged_stock,
            unknown_age=m.unknown_age,
            allocation=allocation,
            mix=mix,
        )


class MeasuresOut(Page[KeyMeasuresOut]):
    """A page of the keys' measures by key, in the one list envelope, with the week and plan they are of."""

    by: Literal["item", "line"]
    period: date = Field(description="The week (its Monday) the measures are for: the newest snapshot's week.")
    recommendation_run_id: uuid.UUID | None
    definitions: dict[str, str] = Field(default_factory=lambda: dict(DEFINITIONS))


class HistoryPointOut(BaseModel):
    period: date
    sold: float
    stock: float | None
    sales_velocity: float | None
    days_of_supply: float | None
    no_recent_sales: bool
    days_to_turn: float | None
    ordered: float | None
    allocated: float | None
    allocation_use: float | None

    @classmethod
    def of(cls, p: HistoryPoint) -> HistoryPointOut:
        return cls(
            period=p.period,
            sold=p.sold,
            stock=finite(p.stock),
            sales_velocity=finite(p.sales_velocity),
            days_of_supply=finite(p.days_of_supply),
            no_recent_sales=math.isinf(p.days_of_supply),
            days_to_turn=finite(p.days_to_turn),
            ordered=finite(p.ordered),
            allocated=finite(p.allocated),
            allocation_use=finite(p.allocation_use),
        )


class MeasureHistoryOut(BaseModel):
    by: Literal["item", "line"]
    key: str
    points: list[HistoryPointOut]
    definitions: dict[str, str] = Field(default_factory=lambda: dict(DEFINITIONS))
