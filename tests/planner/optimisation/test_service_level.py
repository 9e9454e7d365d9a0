"""Order-up-to levels drawn from backtest errors hold the service level they state, on demand they have not seen."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from opsdesk.planner.forecasting.engine import ForecastOptions, run
from opsdesk.planner.optimisation import DemandForecast, demand_curve
from opsdesk.planner.optimisation.policy import forecast_target, simulate
from tests.planner.optimisation.helpers import item

LEAD_TIME = 2
MEAN = 10.0


def _weeks(count: int, seed: int) -> np.ndarray:
    """Skewed weekly demand (gamma, mean 10, sd 5): a normal z-sigma rule would misjudge its upper tail."""
    return np.random.default_rng(seed).gamma(4.0, MEAN / 4.0, count)


@pytest.mark.parametrize("service", [0.8, 0.9, 0.95])
def test_quantile_target_from_backtest_errors_covers_unseen_lead_times_at_its_level(service: float) -> None:
    errors = _weeks(520, seed=1) - MEAN  # ten years of backtest errors of a forecast at the true mean
    forecast = DemandForecast.of([MEAN] * 8, residuals=errors)
    target = forecast_target(replace(item("sku", lead_time_weeks=LEAD_TIME), forecast=forecast), service)
    fresh = _weeks(3 * 4000, seed=2).reshape(4000, LEAD_TIME + 1).sum(axis=1)
    covered = float((fresh <= target).mean())
    assert covered == pytest.approx(service, abs=0.03)


def test_quantile_target_fills_at_least_its_service_level_in_a_simulation() -> None:
    errors = _weeks(104, seed=3) - MEAN
    forecast = DemandForecast.of([MEAN] * 8, residuals=errors)
    target = forecast_target(replace(item("sku", lead_time_weeks=LEAD_TIME), forecast=forecast), 0.95)
    outcome = simulate(lambda t: target, _weeks(520, seed=4), LEAD_TIME, on_hand=target, measure_from=10)
    assert outcome.fill_rate >= 0.95


def test_the_engines_own_backtest_errors_set_the_target_of_a_forecast() -> None:
    import pandas as pd

    weeks = 120
    y = _weeks(weeks, seed=5).round()
    frame = pd.DataFrame({"unique_id": "sku", "ds": pd.date_range("2023-01-02", periods=weeks, freq="W-MON"), "y": y})
    [f] = run(frame, ForecastOptions(horizon=8, freq="W", continuous=("AutoETS", "SeasonalNaive"), n_windows=4))
    assert f.residuals is not None
    forecast = DemandForecast.of(f.mean, lo80=f.lo80, hi80=f.hi80, lo95=f.lo95, hi95=f.hi95, residuals=f.residuals)
    low = forecast_target(replace(item("sku", lead_time_weeks=LEAD_TIME), forecast=forecast), 0.5)
    high = forecast_target(replace(item("sku", lead_time_weeks=LEAD_TIME), forecast=forecast), 0.95)
    expected = float(f.mean[: LEAD_TIME + 1].sum())
    assert low <= expected + 5 < high


def test_an_intermittent_items_lead_time_demand_is_bootstrapped_from_its_own_weeks() -> None:
    rng = np.random.default_rng(8)
    # Half units (a bulk good): not counts, so the weeks are bootstrapped (whole units: tests/…/test_slow_items.py).
    own = np.where(rng.random(78) < 0.25, rng.integers(1, 3, 78) + 0.5, 0).astype(float)
    forecast = DemandForecast.of([0.1] * 8, residuals=np.zeros(16), recent_demand=own)
    curve = demand_curve(replace(item("rare", lead_time_weeks=5), forecast=forecast))
    assert curve.source == "own demand bootstrap"
    stretches = np.convolve(own, np.ones(6), mode="valid")  # every 6-week stretch of the item's history
    assert curve.mean == pytest.approx(float(stretches.mean()), rel=0.1)
    assert set(np.unique(curve.samples)) <= set(np.unique(stretches))
    assert curve.quantile(0.95) == pytest.approx(float(np.quantile(stretches, 0.95)), abs=1.0)


def test_too_few_own_weeks_fall_back_to_the_backtest_errors() -> None:
    forecast = DemandForecast.of([0.5] * 8, residuals=np.linspace(-1, 1, 16), recent_demand=np.ones(10))
    assert demand_curve(replace(item("rare", lead_time_weeks=5), forecast=forecast)).source == "backtest residuals"
