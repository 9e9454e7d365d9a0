"""Targets from few or sparse samples: slow whole-unit items get a count curve, few backtest errors a fitted one."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from opsdesk.planner.optimisation import DemandForecast, demand_curve
from opsdesk.planner.optimisation.demand import DemandCurve, _from_residuals
from opsdesk.planner.optimisation.policy import forecast_target
from tests.planner.optimisation.helpers import item

LEAD_TIME = 8
PERIOD = LEAD_TIME + 1  # lead time plus the one-week review
RATE = 0.5
COUNT_MODEL = "own weekly counts (negative binomial)"


def _slow(own: np.ndarray) -> DemandForecast:
    # A Croston-like forecast far from the item's own rate: the own weeks set the level, not this.
    return DemandForecast.of([0.1] * 8, residuals=np.zeros(16), recent_demand=own)


def _curve_of(own: np.ndarray, bias: float = 1.0) -> DemandCurve:
    plan_item = replace(item("slow", lead_time_weeks=LEAD_TIME), forecast=_slow(own))
    return demand_curve(plan_item, bias)


def test_a_slow_whole_unit_item_gets_a_count_curve_at_its_own_rate() -> None:
    own = np.random.default_rng(1).poisson(RATE, 78).astype(float)
    curve = _curve_of(own)
    assert curve.source == COUNT_MODEL
    assert curve.mean == pytest.approx(float(own.mean()) * PERIOD)
    assert np.array_equal(curve.samples, np.round(curve.samples))  # whole vehicles, not fractions
    assert curve.quantile(0.5) < curve.quantile(0.95) < 3 * curve.mean


def test_the_count_curve_scales_with_the_learned_bias() -> None:
    own = np.random.default_rng(2).poisson(RATE, 78).astype(float)
    assert _curve_of(own, bias=1.2).mean == pytest.approx(1.2 * _curve_of(own).mean)


def test_count_levels_cover_unseen_periods_at_their_level_and_vary_less_than_the_bootstraps() -> None:
    """200 items with 78 weeks of Poisson history each: 95 % levels from both curves, checked on fresh periods."""
    rng = np.random.default_rng(3)
    fresh = rng.poisson(RATE * PERIOD, 20_000)
    counted, bootstrapped = [], []
    for k in range(200):
        own = rng.poisson(RATE, 78).astype(float)
        plan_item = replace(item(f"slow{k}", lead_time_weeks=LEAD_TIME), forecast=_slow(own))
        counted.append(forecast_target(plan_item, 0.95))
        # The same weeks a hair off whole units are not counts, so they take Willemain's bootstrap.
        bootstrapped.append(forecast_target(replace(plan_item, forecast=_slow(own + 1e-6)), 0.95))
    cover = np.array([(fresh <= s).mean() for s in counted])
    assert cover.mean() == pytest.approx(0.95, abs=0.03)
    assert np.std(counted) < np.std(bootstrapped)


def test_weeks_that_are_not_whole_units_keep_the_bootstrap() -> None:
    own = np.random.default_rng(4).gamma(0.5, 2.0, 78)
    assert _curve_of(own).source == "own demand bootstrap"


def test_a_slow_item_without_a_sale_in_its_own_weeks_is_not_stocked() -> None:
    assert _curve_of(np.zeros(78)).quantile(0.99) == 0.0


def test_few_backtest_errors_give_a_fitted_curve_that_covers_better_and_varies_less_than_their_bootstrap() -> None:
    """200 forecasts at the right rate, each with 22 backtest errors (two windows): 95 % levels on fresh periods."""
    rng = np.random.default_rng(5)
    rate = 2.0
    fresh = rng.poisson(rate * PERIOD, 20_000)
    fitted, bootstrapped = [], []
    for k in range(200):
        errors = (rng.poisson(rate, 22) - rate).astype(np.float64)
        forecast = DemandForecast.of([rate] * 11, residuals=errors)
        plan_item = replace(item(f"smooth{k}", lead_time_weeks=LEAD_TIME), forecast=forecast)
        assert demand_curve(plan_item).source == "backtest residuals"
        fitted.append(forecast_target(plan_item, 0.95))
        stretches = _from_residuals(np.full(PERIOD, rate), errors, np.ones(PERIOD), np.random.default_rng(k))
        bootstrapped.append(np.ceil(np.quantile(np.maximum(stretches, 0.0), 0.95) - 1e-9))
    fitted_cover = np.mean([(fresh <= s).mean() for s in fitted])
    bootstrap_cover = np.mean([(fresh <= s).mean() for s in bootstrapped])
    assert fitted_cover > bootstrap_cover + 0.03  # 22 errors cut few distinct stretches: the bootstrap undercovers
    assert np.std(fitted) < np.std(bootstrapped)


def test_whole_units_floor_a_curve_from_backtest_errors_at_a_counts_spread() -> None:
    # 22 errors that happen to vary little: as dollars the curve keeps their spread, as vehicles a count's.
    errors = np.tile([-0.5, 0.5], 11)
    dollars = DemandForecast.of([2.0] * 11, residuals=errors)
    vehicles = DemandForecast.of([2.0] * 11, residuals=errors, whole_units=True)
    base = item("slow", lead_time_weeks=LEAD_TIME)
    narrow = demand_curve(replace(base, forecast=dollars))
    counted = demand_curve(replace(base, forecast=vehicles))
    assert counted.source == narrow.source == "backtest residuals"
    assert float(counted.samples.var()) >= 0.95 * counted.mean  # at least Poisson's spread: variance = mean
    assert float(narrow.samples.var()) < 0.5 * narrow.mean
    assert np.array_equal(counted.samples, np.round(counted.samples))
