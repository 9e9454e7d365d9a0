"""Which forecasts keep their own latest weeks for the lead-time demand: counts whose own rate beat the ensemble."""

from __future__ import annotations

import numpy as np
import pandas as pd

from opsdesk.planner.forecasting.engine import OWN_DEMAND_WEEKS, ForecastOptions, run
from opsdesk.planner.forecasting.results import to_dict
from tests.planner.forecasting.conftest import FAST

WEEKS = 130


def _frame(y: np.ndarray) -> pd.DataFrame:
    ds = pd.date_range("2023-01-02", periods=y.size, freq="W-MON")
    return pd.DataFrame({"unique_id": "sku", "ds": ds, "y": y})


def _options() -> ForecastOptions:
    return ForecastOptions(horizon=8, freq="W", continuous=FAST, n_windows=2)


def _steady_with_a_burst() -> np.ndarray:
    # Two vehicles a week, then a one-off burst just before the backtest: level models chase it, the long rate not.
    y = np.random.default_rng(1).poisson(2.0, WEEKS).astype(float)
    y[WEEKS - 20 : WEEKS - 16] = 9.0
    return y


def test_a_steady_count_item_after_a_burst_keeps_its_own_weeks() -> None:
    y = _steady_with_a_burst()
    [f] = run(_frame(y), _options())
    assert f.pattern in ("smooth", "erratic")  # not intermittent: it keeps them for its rate, not its pattern
    assert f.recent_demand is not None and f.recent_demand.tolist() == y[-OWN_DEMAND_WEEKS:].tolist()


def test_a_trending_count_item_keeps_the_ensemble() -> None:
    rng = np.random.default_rng(2)
    y = rng.poisson(np.linspace(5.0, 40.0, WEEKS)).astype(float)  # the long rate lags a steady climb
    [f] = run(_frame(y), _options())
    assert f.recent_demand is None


def test_demand_that_is_not_whole_units_never_keeps_its_own_weeks() -> None:
    # The same weeks in thousands of dollars (as the Walmart panel): the count model does not apply.
    y = _steady_with_a_burst() * 1.5 + 0.25
    [f] = run(_frame(y), _options())
    assert f.recent_demand is None


def test_a_forecast_says_whether_its_demand_came_in_whole_units() -> None:
    y = _steady_with_a_burst()
    [counted] = run(_frame(y), _options())
    [dollars] = run(_frame(y * 1.5 + 0.25), _options())
    assert counted.whole_units and not dollars.whole_units
    assert to_dict(counted)["whole_units"] is True
