"""A slow item's rate from its model line: its share of the line over its weeks times the line's latest year."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opsdesk.planner.forecasting.engine import forecast_demand
from opsdesk.planner.forecasting.pooling import LINE_RATE_WEEKS, line_share_rates

WEEKS = 156


def _frame(series: dict[str, np.ndarray]) -> pd.DataFrame:
    ds = pd.date_range("2023-01-02", periods=WEEKS, freq="W-MON")
    return pd.DataFrame(
        {
            "unique_id": np.repeat(list(series), WEEKS),
            "ds": np.tile(ds.to_numpy(), len(series)),
            "y": np.concatenate(list(series.values())),
        }
    )


def _growing_line(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Two trims splitting a line 1 : 3 whose demand doubles in its last year."""
    rate = np.where(np.arange(WEEKS) < WEEKS - LINE_RATE_WEEKS, 1.0, 2.0)
    return {
        "base": rng.poisson(0.25 * rate).astype(float),
        "sport": rng.poisson(0.75 * rate).astype(float),
    }


def test_an_items_rate_is_its_share_of_the_line_times_the_lines_latest_year() -> None:
    series = _growing_line(np.random.default_rng(5))
    rates = line_share_rates(_frame(series), {"base": "Escape", "sport": "Escape"})
    line = series["base"] + series["sport"]
    share = series["base"].sum() / line.sum()
    assert rates["base"] == pytest.approx(share * line[-LINE_RATE_WEEKS:].mean())
    # The line's latest year (about 2 a week) sets the level, not the item's 156-week mean (about 1.33 x 0.25).
    assert rates["base"] > 1.2 * series["base"].mean()
    assert rates["base"] + rates["sport"] == pytest.approx(line[-LINE_RATE_WEEKS:].mean())


def test_an_item_alone_in_its_line_or_without_one_keeps_its_own_rate() -> None:
    series = _growing_line(np.random.default_rng(6))
    assert line_share_rates(_frame(series), {"base": "Escape", "sport": "Bronco"}) == {}
    assert line_share_rates(_frame(series), {"base": "Escape"}) == {}


def test_forecasts_of_slow_whole_unit_items_carry_their_line_rate() -> None:
    rng = np.random.default_rng(7)
    series = _growing_line(rng) | {"dollars": rng.gamma(4.0, 50.0, WEEKS)}
    lines = {"base": "Escape", "sport": "Escape", "dollars": "Escape"}
    found = {f.unique_id: f for f in forecast_demand(_frame(series), horizon=8, lines=lines)}
    rates = line_share_rates(_frame(series), lines)
    assert found["base"].recent_demand is not None
    assert found["base"].own_rate == pytest.approx(rates["base"])
    assert found["dollars"].own_rate is None  # not whole units: no count curve to give a rate to
    assert all(f.own_rate is None for f in forecast_demand(_frame(series), horizon=8))
