"""Replenishment policies week by week: order-up-to targets and the stock they leave, for backtests on real demand.

Accounting (one item, weekly review): at the start of week t the units ordered at the start of week t - L arrive,
then the policy names its order-up-to level S_t and orders max(0, S_t - position), position = on hand + on order;
with L = 0 the order is on the shelf at once. Then the week's demand comes: served = min(on hand, demand), and what
is not served is lost (no backorders). Inventory is the on hand at the end of the week. Targets see only the weeks
before t.

Three ways to set S_t over the protection period P = L + 1 weeks (lead time plus the one-week review):

- `forecast_target`: the planner's own, the forecast's demand distribution (`demand_curve`) at a service level, or
  the economic newsvendor level (`target_stock`) when no level is given;
- `moving_average_target`: mean of the last `window` weeks x P + z sigma sqrt(P), sigma their standard deviation;
- `seasonal_naive_target`: the same weeks one season ago + z sigma sqrt(P), sigma the standard deviation of the
  seasonal differences y[s] - y[s - m] seen so far.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from opsdesk.planner.optimisation.demand import demand_curve, target_stock
from opsdesk.planner.optimisation.problem import DemandForecast, PlanItem, Weights

FloatArray = npt.NDArray[np.float64]
Policy = Callable[[int], float]


@dataclass(frozen=True, eq=False)
class Outcome:
    """Week-by-week result of one item's simulation over the measured weeks."""

    demand: FloatArray
    served: FloatArray
    on_hand: FloatArray  # at the end of each week
    ordered: FloatArray

    @property
    def fill_rate(self) -> float:
        total = float(self.demand.sum())
        return float(self.served.sum()) / total if total > 0 else 1.0

    @property
    def avg_inventory(self) -> float:
        return float(self.on_hand.mean()) if self.on_hand.size else 0.0

    @property
    def lost(self) -> float:
        return float((self.demand - self.served).sum())


def simulate(
    policy: Policy,
    demand: FloatArray | Sequence[float],
    lead_time: int,
    *,
    on_hand: float = 0.0,
    measure_from: int = 0,
    whole_units: bool = True,
) -> Outcome:
    """Runs the weeks of `demand` under `policy` (week -> order-up-to level); weeks before `measure_from` warm up."""
    if lead_time < 0:
        raise ValueError("lead time must not be negative")
    weeks = np.asarray(demand, dtype=np.float64)
    arriving = np.zeros(weeks.size + lead_time + 1)
    served, end, ordered = (np.zeros(weeks.size) for _ in range(3))
    stock, on_order = float(on_hand), 0.0
    for t, wanted in enumerate(weeks):
        stock += arriving[t]
        on_order -= arriving[t]
        gap = max(0.0, policy(t) - stock - on_order)
        quantity = math.ceil(gap - 1e-9) if whole_units else gap
        ordered[t] = quantity
        if lead_time == 0:
            stock += quantity
        else:
            arriving[t + lead_time] += quantity
            on_order += quantity
        served[t] = min(stock, float(wanted))
        stock -= served[t]
        end[t] = stock
    kept = slice(measure_from, None)
    return Outcome(weeks[kept].copy(), served[kept], end[kept], ordered[kept])


def pooled(outcomes: Sequence[Outcome]) -> tuple[float, float]:
    """(fill rate, mean end-of-week inventory summed over items) of many items' runs over the same weeks."""
    demand = sum(float(o.demand.sum()) for o in outcomes)
    served = sum(float(o.served.sum()) for o in outcomes)
    inventory = float(np.sum([o.on_hand for o in outcomes], axis=0).mean()) if outcomes else 0.0
    return (served / demand if demand > 0 else 1.0), inventory


def moving_average_target(history: FloatArray, window: int, protection: int, z: float) -> float:
    """Order-up-to level of the moving-average rule from the weeks in `history` (oldest first)."""
    recent = history[-window:]
    if recent.size == 0:
        return 0.0
    return float(recent.mean() * protection + z * recent.std() * math.sqrt(protection))


def seasonal_naive_target(history: FloatArray, season: int, protection: int, z: float) -> float:
    """Order-up-to level from the same weeks one season earlier, with the seasonal differences' spread."""
    n = history.size
    if n < season:
        return moving_average_target(history, season, protection, z)
    ahead = np.array([history[n - season + (k % season)] for k in range(protection)])
    diffs = history[season:] - history[:-season]
    sigma = float(diffs.std()) if diffs.size > 1 else 0.0
    return float(ahead.sum() + z * sigma * math.sqrt(protection))


def forecast_target(
    item: PlanItem,
    service: float | None = None,
    *,
    weights: Weights | None = None,
    holding_rate_per_year: float = 0.25,
) -> float:
    """The planner's order-up-to level: the protection-period demand quantile at `service`, else the newsvendor's."""
    curve = demand_curve(item)
    if service is None:
        return float(target_stock(item, curve, weights or Weights(), holding_rate_per_year).target)
    return float(math.ceil(curve.quantile(service) - 1e-9))


def forecast_targets(item: PlanItem, services: Sequence[float]) -> FloatArray:
    """Order-up-to levels at several service levels from one demand curve (the curve is the costly part)."""
    curve = demand_curve(item)
    return np.array([math.ceil(curve.quantile(p) - 1e-9) for p in services], dtype=np.float64)


def realised_errors(actual: FloatArray, forecasts: FloatArray) -> FloatArray:
    """Actual minus forecast for the weeks that have both (nan where no forecast was made), oldest first."""
    errors = np.asarray(actual, dtype=np.float64) - np.asarray(forecasts, dtype=np.float64)
    return errors[np.isfinite(errors)]


def with_residuals(forecast: DemandForecast, residuals: FloatArray, minimum: int = 8) -> DemandForecast:
    """The forecast carrying its own out-of-sample errors once there are `minimum` of them (else as it was)."""
    if residuals.size < minimum:
        return forecast
    return replace(forecast, residuals=residuals)
