"""Small synthetic demand panels; fast candidate sets keep each test in seconds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opsdesk.planner.forecasting.engine import ForecastOptions

FAST = ("AutoETS", "AutoTheta", "SeasonalNaive")


def monthly_panel(n_series: int = 4, months: int = 60, seed: int = 0) -> pd.DataFrame:
    """Seasonal monthly demand with a trend and noise, as a long frame."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2019-01-01", periods=months, freq="MS")
    t = np.arange(months)
    parts = []
    for i in range(n_series):
        y = 40 + 3 * i + 12 * np.sin(2 * np.pi * t / 12 + i) + 0.2 * t + rng.normal(0, 2, months)
        parts.append(pd.DataFrame({"unique_id": f"item{i}", "ds": ds, "y": np.maximum(y, 0).round()}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture
def fast_options() -> ForecastOptions:
    return ForecastOptions(horizon=6, freq="MS", continuous=FAST)
