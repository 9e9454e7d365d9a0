"""The planner's backtest forecasts of past weeks: made only from what was known h weeks before each week, by the
planner's candidate family for the series' pattern, with an 80 % interval that covers about 80 % of the weeks."""

from __future__ import annotations

import numpy as np

from opsdesk.planner.forecasting import candidates
from opsdesk.planner.learning.backtest import WeeklySeries, backtest


def _smooth(weeks: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).poisson(30, size=weeks).astype(np.float64)


def _sporadic(weeks: int, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.where(rng.uniform(size=weeks) < 0.35, rng.integers(1, 4, size=weeks), 0).astype(np.float64)


def test_a_weeks_forecast_uses_nothing_from_the_lead_time_before_it_or_later() -> None:
    y = _smooth(70)
    target, h = 60, 3
    changed = y.copy()
    changed[target - h + 1 :] *= 5.0  # the weeks after the origin (t - h) and the week itself
    before = backtest([WeeklySeries("a", y, (target,), h)])["a"][target]
    after = backtest([WeeklySeries("a", changed, (target,), h)])["a"][target]
    assert (after.mean, after.low, after.high) == (before.mean, before.low, before.high)

    changed[target - h] *= 5.0  # the origin week itself is known when the forecast is made
    moved = backtest([WeeklySeries("a", changed, (target,), h)])["a"][target]
    assert moved.mean != before.mean


def test_smooth_demand_gets_the_continuous_family_near_its_level_with_an_honest_interval() -> None:
    y = _smooth(90)
    targets = tuple(range(50, 90))
    forecasts = backtest([WeeklySeries("a", y, targets, 2)])["a"]
    assert set(forecasts) == set(targets)
    continuous = {getattr(m, "alias", repr(m)) for m in candidates.continuous_models(1)}
    assert all(set(f.weights) <= continuous and abs(sum(f.weights.values()) - 1) < 1e-9 for f in forecasts.values())
    means = np.array([f.mean for f in forecasts.values()])
    assert np.all(np.abs(means - 30.0) < 6.0), means
    covered = np.mean([f.low <= y[t] <= f.high for t, f in forecasts.items()])
    assert 0.6 <= covered <= 0.95, covered


def test_sporadic_demand_gets_crostons_family_and_a_non_negative_interval() -> None:
    y = _sporadic(80)
    forecasts = backtest([WeeklySeries("s", y, tuple(range(50, 80)), 1)])["s"]
    sporadic = {repr(m) for m in candidates.sporadic_models()}
    assert forecasts and all(set(f.weights) <= sporadic for f in forecasts.values())
    assert all(0.0 <= f.low <= f.mean <= f.high for f in forecasts.values())


def test_weeks_without_enough_history_before_them_get_no_forecast() -> None:
    y = _smooth(40)
    forecasts = backtest([WeeklySeries("a", y, (-1, 5, 39), 1), WeeklySeries("b", np.zeros(40), (39,), 1)])
    assert set(forecasts["a"]) == {39}  # week 5 has too few weeks before it, -1 is before the first sale
    assert forecasts["b"] == {}  # never sold: nothing to forecast from
