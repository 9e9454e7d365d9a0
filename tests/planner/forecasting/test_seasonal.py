"""Seasons from one year of history, and the error sample every forecast carries for its order-up-to level."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from opsdesk.planner.forecasting.engine import OWN_DEMAND_WEEKS, ForecastOptions, run
from opsdesk.planner.forecasting.results import to_dict
from opsdesk.planner.forecasting.seasonal import SeasonalLevelNaive, level_naive_points
from tests.planner.forecasting.conftest import FAST

SPIKE_WEEKS = (9, 10)  # a promotion in the same two weeks every year


def _weekly(weeks: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = 20.0 + rng.normal(0, 1.0, weeks)
    y[[t for t in range(weeks) if t % 52 in SPIKE_WEEKS]] += 30.0
    ds = pd.date_range("2023-01-02", periods=weeks, freq="W-MON")
    return pd.DataFrame({"unique_id": "store", "ds": ds, "y": y.round(1)})


def _options() -> ForecastOptions:
    # top_k above the candidate count: every candidate that ran shows up in the weights.
    return ForecastOptions(horizon=8, freq="W", continuous=FAST, top_k=10)


def test_a_60_week_series_gets_seasonal_candidates_and_forecasts_last_years_spike() -> None:
    [f] = run(_weekly(60), _options())
    assert {"SeasonalNaive", "SeasonalLevelNaive"} <= set(f.weights)
    # Weeks 61 and 62 repeat weeks 9 and 10: the forecast (weeks 60-67) must rise there and fall back after.
    assert f.mean[1] > f.mean[5] + 5 and f.mean[2] > f.mean[6] + 5


def test_a_series_shorter_than_a_season_plus_the_horizon_gets_none() -> None:
    [f] = run(_weekly(55), _options())
    assert "SeasonalLevelNaive" not in f.weights


def test_level_naive_moves_last_season_to_the_current_level() -> None:
    season = np.array([1.0, 5.0, 1.0, 1.0])
    y = np.concatenate([season, season + 10.0])  # the level rose by 10 in a season
    points = level_naive_points(y, 4, season=4, window=2)
    assert points.tolist() == (season + 20.0).tolist()  # last season (+10) plus the latest rise (+10)
    assert level_naive_points(y[:3], 2, season=4).tolist() == [1.0, 1.0]  # shorter than a season: naive


def test_level_naive_gives_ordered_bands_through_statsforecasts_protocol() -> None:
    y = np.tile([3.0, 8.0, 4.0, 2.0], 6) + np.linspace(0, 2, 24)
    out = SeasonalLevelNaive(season_length=4, window=2).forecast(y, 6, level=[80, 95])
    assert np.all(out["lo-95"] <= out["lo-80"]) and np.all(out["lo-80"] <= out["mean"])
    assert np.all(out["mean"] <= out["hi-80"]) and np.all(out["hi-80"] <= out["hi-95"])


def test_every_forecast_carries_its_backtest_errors_and_stores_them() -> None:
    options = _options()
    [f] = run(_weekly(120), options)
    assert f.residuals is not None and f.residuals.size == options.n_windows * options.horizon
    assert to_dict(f)["residuals"] == [round(float(e), 6) for e in f.residuals]


def test_an_intermittent_item_carries_its_own_latest_weeks_for_the_lead_time_bootstrap() -> None:
    rng = np.random.default_rng(5)
    weeks = 100
    y = np.where(rng.random(weeks) < 0.3, rng.integers(1, 4, weeks), 0).astype(float)
    ds = pd.date_range("2023-01-02", periods=weeks, freq="W-MON")
    [f] = run(pd.DataFrame({"unique_id": "rare", "ds": ds, "y": y}), replace(_options(), top_k=3))
    assert f.pattern in ("intermittent", "lumpy")
    assert f.recent_demand is not None and f.recent_demand.tolist() == y[-OWN_DEMAND_WEEKS:].tolist()
    assert f.residuals is not None and f.residuals.size == 16
    assert to_dict(f)["recent_demand"] == y[-OWN_DEMAND_WEEKS:].tolist()
