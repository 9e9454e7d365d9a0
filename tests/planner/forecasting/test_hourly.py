"""Hourly demand: the candidates carry the daily (24) and weekly (168) seasons and forecast the day's shape."""

from __future__ import annotations

import numpy as np
import pandas as pd

from opsdesk.planner.forecasting import candidates
from opsdesk.planner.forecasting.engine import ForecastOptions, run

DAY = 24
WEEK = 7 * DAY


def _daily_shape() -> np.ndarray:
    """A shop's day: quiet at night, a morning and an evening peak."""
    hour = np.arange(DAY)
    return 5.0 + 30.0 * np.exp(-((hour - 9) ** 2) / 4.0) + 45.0 * np.exp(-((hour - 18) ** 2) / 6.0)


def _hourly(hours: int, *, weekend_factor: float = 1.0, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(hours)
    ds = pd.date_range("2026-01-05", periods=hours, freq="h")  # a Monday, midnight
    weekend = ds.dayofweek.to_numpy() >= 5
    y = _daily_shape()[t % DAY] * np.where(weekend, weekend_factor, 1.0) + rng.normal(0, 1.5, hours)
    return pd.DataFrame({"unique_id": "store", "ds": ds, "y": np.maximum(y, 0.0).round(1)})


def _options(**overrides: object) -> ForecastOptions:
    return ForecastOptions(horizon=48, freq="h", top_k=10, **overrides)  # type: ignore[arg-type]


def test_hourly_data_gets_the_hourly_set_with_daily_and_weekly_seasons() -> None:
    season = candidates.season_length_for("h")
    assert season == DAY
    names = candidates.default_continuous(season)
    assert names == candidates.HOURLY
    assert "AutoARIMA" not in names  # about a second per fit of 700-960 hours, and the worst on the train split
    seasons = {model.alias: model.season_length for model in candidates.continuous_models(season, names)}
    assert seasons == {
        "MSTL": [DAY, WEEK],
        "MSTLDaily": [DAY],
        "CES": DAY,
        "SeasonalNaive": DAY,
        "WeeklyNaive": WEEK,
    }
    # The weekly set is not touched by the hourly choice.
    assert candidates.default_continuous(52) == candidates.WEEKLY


def test_a_24_periodic_series_is_forecast_with_its_daily_shape() -> None:
    [f] = run(_hourly(3 * WEEK), _options())
    aliases = {model.alias for model in candidates.continuous_models(DAY, candidates.HOURLY)}
    assert f.weights and set(f.weights) <= aliases
    truth = np.tile(_daily_shape(), 2)  # the history ends at midnight: the horizon is two whole days
    assert np.corrcoef(f.mean, truth)[0, 1] > 0.95
    assert float(np.mean(np.abs(f.mean - truth))) < 5.0  # the noise is 1.5, the day's swing 45
    assert f.mean[18] > f.mean[3] + 30  # the evening peak, not a flat line
    assert (f.lo95 <= f.lo80).all() and (f.lo80 <= f.mean).all() and (f.mean <= f.hi80).all()
    assert (f.hi80 <= f.hi95).all()


def test_quiet_weekends_are_forecast_from_the_weekly_season() -> None:
    # Three weeks ending on Friday midnight: the horizon is Saturday and Sunday, at a fifth of a weekday's demand.
    # The backtest windows are weekdays, so yesterday's naive keeps some weight; the weekly members pull it down.
    [f] = run(_hourly(3 * WEEK - 2 * DAY, weekend_factor=0.2), _options())
    assert {"MSTL", "WeeklyNaive"} <= set(f.weights)
    assert float(np.max(f.mean)) < 0.6 * float(np.max(_daily_shape()))
    assert f.mean[18] > f.mean[3]  # still the day's shape


def test_a_history_shorter_than_a_week_still_gets_a_daily_forecast() -> None:
    # Five days: two daily seasons, but no week for the weekly naive or MSTL's weekly season.
    [f] = run(_hourly(5 * DAY), _options())
    assert np.isfinite(f.mean).all() and f.backtest_mase is not None
    assert f.mean[18] > f.mean[3] + 20
