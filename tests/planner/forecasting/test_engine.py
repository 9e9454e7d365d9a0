from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest

from opsdesk.planner.forecasting.engine import ForecastInputError, ForecastOptions, prepare, run
from opsdesk.planner.forecasting.metrics import mase
from opsdesk.planner.forecasting.results import SeriesForecast, to_dict
from tests.planner.forecasting.conftest import FAST, monthly_panel


def _ordered(f: SeriesForecast) -> bool:
    eps = 1e-9
    return bool(
        np.all(f.lo95 <= f.lo80 + eps)
        and np.all(f.lo80 <= f.mean + eps)
        and np.all(f.mean <= f.hi80 + eps)
        and np.all(f.hi80 <= f.hi95 + eps)
    )


def test_an_item_with_one_week_of_history_gets_the_stated_fallback() -> None:
    df = pd.DataFrame({"unique_id": ["new"], "ds": [date(2024, 5, 6)], "y": [3.0]})
    [f] = run(df, ForecastOptions(horizon=8, freq="W"))
    assert f.pattern == "short"
    assert f.model == "historic_mean"
    assert f.fallback is not None and "too few" in f.fallback
    assert f.ds[0] == date(2024, 5, 13) and len(f.ds) == 8
    assert np.allclose(f.mean, 3.0) and _ordered(f)
    assert f.backtest_mase is None


def test_a_few_weeks_fall_back_to_the_mean_with_empirical_bands() -> None:
    ds = pd.date_range("2024-01-01", periods=6, freq="W-MON")
    df = pd.DataFrame({"unique_id": "a", "ds": ds, "y": [2.0, 4, 0, 6, 2, 4]})
    [f] = run(df, ForecastOptions(horizon=4, freq="W"))
    assert f.fallback is not None
    assert np.allclose(f.mean, 3.0)
    assert f.lo95[0] >= 0 and f.hi95[0] <= 6 and _ordered(f)


def test_weekly_gaps_are_zero_filled_on_the_series_own_weekday() -> None:
    df = pd.DataFrame({"unique_id": "a", "ds": ["2024-01-03", "2024-01-24"], "y": [5.0, 7.0]})
    data, freq = prepare(df, "W")
    assert freq == "W-WED"
    assert data["y"].tolist() == [5.0, 0.0, 0.0, 7.0]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"unique_id": ["a"], "ds": ["2024-01-01"], "y": [-1.0]}), "negative"),
        (pd.DataFrame({"unique_id": ["a"], "ds": ["2024-01-01"], "y": ["x"]}), "numeric"),
        (pd.DataFrame({"unique_id": ["a"], "ds": ["2024-01-01"]}), "lacks columns"),
        (pd.DataFrame({"unique_id": ["a", "a"], "ds": ["2024-01-01"] * 2, "y": [1.0, 2.0]}), "same date"),
    ],
)
def test_bad_demand_frames_are_rejected_by_name(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(ForecastInputError, match=message):
        run(frame, ForecastOptions())


def test_every_series_gets_ordered_bands_a_model_and_a_backtest(fast_options: ForecastOptions) -> None:
    rng = np.random.default_rng(3)
    ds = pd.date_range("2019-01-01", periods=60, freq="MS")
    sparse = pd.DataFrame({"unique_id": "sparse", "ds": ds, "y": rng.poisson(0.4, 60).astype(float)})
    df = pd.concat([monthly_panel(2), sparse], ignore_index=True)
    seen: list[tuple[int, int]] = []
    result = run(df, fast_options, progress=lambda done, total: seen.append((done, total)))
    by_id = {f.unique_id: f for f in result}
    assert set(by_id) == {"item0", "item1", "sparse"}
    assert by_id["sparse"].pattern in ("intermittent", "lumpy")
    assert by_id["item0"].pattern == "smooth"
    for f in result:
        assert _ordered(f), f.unique_id
        assert len(f.mean) == 6 and f.ds[0] == date(2024, 1, 1)
        assert f.fallback is None and f.backtest_mase is not None and f.backtest_smape is not None
        assert sum(f.weights.values()) == pytest.approx(1.0)
        assert np.all(f.lo95 >= 0)
    assert seen[-1][0] == seen[-1][1]
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_results_become_plain_json(fast_options: ForecastOptions) -> None:
    [f, *_] = run(monthly_panel(1), fast_options)
    payload = json.loads(json.dumps(to_dict(f)))
    assert payload["ds"][0] == "2024-01-01"
    assert len(payload["hi95"]) == 6 and payload["model"] == f.model


@pytest.mark.slow
def test_ensemble_is_no_worse_than_its_worst_member_on_a_seasonal_panel(fast_options: ForecastOptions) -> None:
    panel = monthly_panel(6, months=72, seed=7)
    h = fast_options.horizon
    train = panel.groupby("unique_id").head(72 - h)
    test = panel.groupby("unique_id").tail(h)

    def holdout_mase(options: ForecastOptions) -> float:
        errors = []
        for f in run(train, options):
            y = train[train["unique_id"] == f.unique_id]["y"].to_numpy(np.float64)
            actual = test[test["unique_id"] == f.unique_id]["y"].to_numpy(np.float64)
            errors.append(mase(actual, f.mean, y, 12))
        return float(np.mean(errors))

    ensemble = holdout_mase(fast_options)
    members = {name: holdout_mase(replace(fast_options, continuous=(name,))) for name in FAST}
    assert ensemble <= max(members.values())
