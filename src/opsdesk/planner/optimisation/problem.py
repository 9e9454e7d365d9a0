"""What an order recommendation is asked: items with their forecast distribution, constraints and weights."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class DemandForecast:
    """Weekly demand forecast with its own error: interval bounds per week and/or backtest errors.

    `residuals` are per-week backtest errors (actual minus forecast), oldest first; with at least 8 of them the
    demand distribution is bootstrapped from them, otherwise from the interval bounds, otherwise Poisson.
    `recent_demand` (intermittent items, and slow whole-unit items whose own rate beat the forecast in backtest)
    is the item's own latest weeks: when given, the protection-period demand comes from them, mean included (a
    negative binomial fitted to whole-unit weeks, else a bootstrap of their consecutive weeks).
    """

    mean: FloatArray
    lo80: FloatArray | None = None
    hi80: FloatArray | None = None
    lo95: FloatArray | None = None
    hi95: FloatArray | None = None
    residuals: FloatArray | None = None
    recent_demand: FloatArray | None = None
    whole_units: bool = False  # demand comes in whole units: a count's spread floors the backtest errors' curve

    @staticmethod
    def of(
        mean: list[float] | FloatArray,
        *,
        lo80: list[float] | FloatArray | None = None,
        hi80: list[float] | FloatArray | None = None,
        lo95: list[float] | FloatArray | None = None,
        hi95: list[float] | FloatArray | None = None,
        residuals: list[float] | FloatArray | None = None,
        recent_demand: list[float] | FloatArray | None = None,
        whole_units: bool = False,
    ) -> DemandForecast:
        """Builds a forecast from plain lists (tests, the edge)."""

        def arr(values: list[float] | FloatArray | None) -> FloatArray | None:
            return None if values is None else np.asarray(values, dtype=np.float64)

        mean_arr = arr(mean)
        assert mean_arr is not None
        return DemandForecast(
            mean_arr, arr(lo80), arr(hi80), arr(lo95), arr(hi95), arr(residuals), arr(recent_demand), whole_units
        )


@dataclass(frozen=True, eq=False)
class PlanItem:
    """One orderable item (a vehicle configuration or a SKU) with its stock, terms and forecast."""

    id: str
    line: str
    unit_cost: float
    unit_price: float
    forecast: DemandForecast
    lead_time_weeks: float
    review_weeks: float = 1.0
    on_hand: int = 0
    on_order: int = 0
    pack: int = 1
    min_units: int = 0
    max_units: int | None = None
    space: float = 1.0
    min_days_of_supply: float | None = None
    shortage_cost: float = 0.0
    name: str = ""

    @property
    def margin(self) -> float:
        return self.unit_price - self.unit_cost

    @property
    def label(self) -> str:
        return self.name or self.id


@dataclass(frozen=True)
class MixShare:
    """A model line's share of the order (or of the stock after it), in units, between two bounds."""

    line: str
    min_share: float = 0.0
    max_share: float = 1.0
    basis: Literal["order", "stock"] = "order"


@dataclass(frozen=True)
class Constraints:
    """Limits that hold together. `lot_space` counts the expected stock on the lot when this order arrives
    (on hand + on order - expected sales over the lead time, not below zero) plus the order."""

    budget: float | None = None
    lot_space: float | None = None
    allocation: Mapping[str, int] = field(default_factory=dict)
    mix: tuple[MixShare, ...] = ()
    min_days_of_supply: float = 0.0
    holding_rate_per_year: float = 0.25
    currency: str = "SGD"


@dataclass(frozen=True)
class Weights:
    """Preference weights of the objective, and each item's learned demand bias (a multiplier, 1 = none)."""

    margin: float = 1.0
    holding: float = 1.0
    shortage: float = 1.0
    item_bias: Mapping[str, float] = field(default_factory=dict)

    def bias(self, item_id: str) -> float:
        return max(0.0, float(self.item_bias.get(item_id, 1.0)))


@dataclass(frozen=True)
class Problem:
    """One recommendation question: the items, the constraints and the weights."""

    items: tuple[PlanItem, ...]
    constraints: Constraints = Constraints()
    weights: Weights = Weights()
