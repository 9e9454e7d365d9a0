"""A slow item's weekly rate from its model line: its share of the line's sales times the line's latest year.

An item selling two units a week estimates its own rate poorly: 78 weeks hold about 150 sales (8 % error), and a
78-week mean lags a line's drift by 39 weeks. Configurations of one model line share the line's ups and downs (its
segment, its season), while their split of the line changes slowly. So the item's share is read from all its weeks
(up to the forecast's history, 156 weeks) and the level from the line's latest `LINE_RATE_WEEKS` weeks, whose sum
is several items' sales (a whole year, so the season averages out). The rate feeds the item's protection-period
demand curve (`optimisation.demand`); its spread still comes from the item's own weeks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from opsdesk.planner.forecasting.results import SeriesForecast

LINE_RATE_WEEKS = 52  # one season: the line's level without its season


def line_share_rates(data: pd.DataFrame, line_of: Mapping[str, str]) -> dict[str, float]:
    """Each item's rate per period: its share of its line over its own periods x the line's latest-year mean.

    `data` is the long frame (`unique_id`, `ds`, `y`) on one period grid. Items without a line, alone in their line,
    or whose line sold nothing over their periods get no rate (the caller keeps the item's own).
    """
    frame = data[data["unique_id"].astype(str).isin(line_of)]
    if frame.empty:
        return {}
    wide = frame.pivot_table(index="ds", columns="unique_id", values="y", aggfunc="sum").sort_index()
    wide.columns = [str(c) for c in wide.columns]
    present = wide.notna().to_numpy()
    values = wide.fillna(0.0).to_numpy(np.float64)
    items = list(wide.columns)
    rates: dict[str, float] = {}
    for line in sorted({line_of[u] for u in items}):
        members = [k for k, u in enumerate(items) if line_of[u] == line]
        if len(members) < 2:
            continue
        line_sales = values[:, members].sum(axis=1)
        level = float(line_sales[-LINE_RATE_WEEKS:].mean())
        for k in members:
            own = present[:, k]
            base = float(line_sales[own].sum())
            if base > 0:
                rates[items[k]] = float(values[own, k].sum()) / base * level
    return rates


def with_line_rates(
    forecasts: Sequence[SeriesForecast], data: pd.DataFrame, line_of: Mapping[str, str]
) -> list[SeriesForecast]:
    """The forecasts, each whole-unit item that keeps its own weeks carrying its line-share rate (`own_rate`)."""
    rates = line_share_rates(data, line_of)
    return [
        replace(f, own_rate=rates[f.unique_id])
        if f.unique_id in rates and f.recent_demand is not None and f.whole_units
        else f
        for f in forecasts
    ]
