from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opsdesk.planner.forecasting.engine import ForecastInputError, ForecastOptions
from opsdesk.planner.forecasting.reconcile import forecast_hierarchy
from tests.planner.forecasting.conftest import monthly_panel

CHEAP = ForecastOptions(horizon=6, freq="MS", continuous=("AutoTheta", "SeasonalNaive"))
LINES = {"item0": "explorer", "item1": "explorer", "item2": "bronco", "item3": "bronco"}


@pytest.mark.parametrize("method", ["wls_struct", "ols", "bottom_up"])
def test_items_add_up_to_their_line_and_lines_to_the_total(method: str) -> None:
    result = forecast_hierarchy(monthly_panel(4), LINES, method=method, options=CHEAP)
    items = {f.unique_id: f for f in result.items}
    lines = {f.unique_id: f for f in result.lines}
    assert set(lines) == {"explorer", "bronco"}
    for line in lines:
        parts = sum(items[u].mean for u, owner in LINES.items() if owner == line)
        assert np.allclose(parts, lines[line].mean, rtol=1e-6, atol=1e-6)
    assert np.allclose(sum(f.mean for f in result.lines), result.total.mean, rtol=1e-6, atol=1e-6)
    for f in [*result.items, *result.lines, result.total]:
        assert np.all(f.lo95 <= f.lo80 + 1e-9) and np.all(f.lo80 <= f.mean + 1e-9)
        assert np.all(f.mean <= f.hi80 + 1e-9) and np.all(f.hi80 <= f.hi95 + 1e-9)


def test_an_item_that_stopped_selling_counts_as_zero_until_the_common_end() -> None:
    panel = monthly_panel(4)
    cut = panel[~((panel["unique_id"] == "item3") & (panel["ds"] >= "2023-06-01"))]
    result = forecast_hierarchy(cut, LINES, options=CHEAP)
    assert {len(f.ds) for f in result.items} == {6}
    assert len({f.ds[0] for f in result.items}) == 1


def test_an_item_without_a_line_is_named() -> None:
    with pytest.raises(ForecastInputError, match="item3"):
        forecast_hierarchy(monthly_panel(4), {k: v for k, v in LINES.items() if k != "item3"}, options=CHEAP)


def test_unknown_reconciliation_is_refused() -> None:
    with pytest.raises(ForecastInputError, match="reconciliation"):
        forecast_hierarchy(pd.DataFrame({"unique_id": [], "ds": [], "y": []}), {}, method="magic")
