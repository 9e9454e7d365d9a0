"""Item → model line → total forecasts that add up, reconciled with hierarchicalforecast.

Every level is forecast on its own (a line's sum is smoother than its items, so its forecast is better), then the
point forecasts are reconciled with MinTrace (`wls_struct` by default: weights from the structure alone, no
residual covariance to estimate, so it is stable for short histories) or BottomUp. Each series' bands move with its
point forecast (the reconciliation shift is added to lo/hi), which keeps them ordered; bands are not made coherent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from opsdesk.planner.forecasting.engine import ForecastInputError, ForecastOptions, Progress, run
from opsdesk.planner.forecasting.results import ReconciledForecast, SeriesForecast

if TYPE_CHECKING:  # pandas is imported where frames are built (a third of a second at import)
    import pandas as pd

METHODS = ("wls_struct", "ols", "bottom_up")
_ITEM, _LINE, _TOTAL = "item/", "line/", "total"


def forecast_hierarchy(
    df: pd.DataFrame,
    hierarchy: Mapping[str, str],
    *,
    method: str = "wls_struct",
    options: ForecastOptions | None = None,
    progress: Progress | None = None,
) -> ReconciledForecast:
    """Forecast items, their model lines (`hierarchy`: item → line) and the total, reconciled so parts sum up."""
    if method not in METHODS:
        raise ForecastInputError(f"unknown reconciliation {method!r}; use one of {', '.join(METHODS)}")
    options = options or ForecastOptions()
    items = sorted({str(u) for u in df["unique_id"].unique()})
    unmapped = [u for u in items if u not in hierarchy]
    if unmapped:
        raise ForecastInputError(f"items without a model line: {', '.join(unmapped[:5])}")
    frame = _levels(df, {u: str(hierarchy[u]) for u in items})
    forecasts = {f.unique_id: f for f in run(frame, options, progress)}
    lines = sorted({str(hierarchy[u]) for u in items})
    bottom = [_ITEM + u for u in items]
    upper = [_TOTAL] + [_LINE + line for line in lines]
    s = np.vstack(
        [
            np.ones((1, len(items))),
            np.array([[1.0 if hierarchy[u] == line else 0.0 for u in items] for line in lines]),
            np.eye(len(items)),
        ]
    )
    order = upper + bottom
    reconciled = _reconcile(order, s, {"total": [_TOTAL], "line": upper[1:], "item": bottom}, forecasts, method)
    shifted = {uid: _shift(forecasts[uid], reconciled[uid], options.nonnegative) for uid in order}
    return ReconciledForecast(
        items=[replace(shifted[_ITEM + u], unique_id=u) for u in items],
        lines=[replace(shifted[_LINE + line], unique_id=line) for line in lines],
        total=replace(shifted[_TOTAL], unique_id=_TOTAL),
        method=f"mintrace_{method}" if method != "bottom_up" else method,
    )


def _levels(df: pd.DataFrame, line_of: dict[str, str]) -> pd.DataFrame:
    """Items padded with zero demand to the common last date, plus their line sums and the total."""
    import pandas as pd

    data = df[["unique_id", "ds", "y"]].copy()
    data["unique_id"] = data["unique_id"].astype(str)
    data["ds"] = pd.to_datetime(data["ds"])
    end = data["ds"].max()
    ends = data.groupby("unique_id")["ds"].max()
    pad = pd.DataFrame({"unique_id": ends[ends < end].index, "ds": end, "y": 0.0})
    data = pd.concat([data, pad], ignore_index=True)
    wide = data.pivot_table(index="ds", columns="unique_id", values="y", aggfunc="sum")
    starts = data.groupby("unique_id")["ds"].min()
    parts = [data.assign(unique_id=_ITEM + data["unique_id"])]
    filled = wide.fillna(0.0)
    for line in sorted(set(line_of.values())):
        members = [u for u in filled.columns if line_of[u] == line]
        first = starts[members].min()
        series = filled.loc[filled.index >= first, members].sum(axis=1)
        parts.append(pd.DataFrame({"unique_id": _LINE + line, "ds": series.index, "y": series.to_numpy()}))
    total = filled.loc[filled.index >= starts.min()].sum(axis=1)
    parts.append(pd.DataFrame({"unique_id": _TOTAL, "ds": total.index, "y": total.to_numpy()}))
    return pd.concat(parts, ignore_index=True)


def _reconcile(
    order: list[str],
    s: np.ndarray[Any, np.dtype[np.float64]],
    tags: dict[str, list[str]],
    forecasts: dict[str, SeriesForecast],
    method: str,
) -> dict[str, np.ndarray[Any, np.dtype[np.float64]]]:
    # Loaded on first use: hierarchicalforecast pulls statsmodels and friends (seconds at import), pandas a third.
    import pandas as pd
    from hierarchicalforecast.core import HierarchicalReconciliation
    from hierarchicalforecast.methods import BottomUp, MinTrace

    h = min(len(forecasts[uid].mean) for uid in order)
    ds = forecasts[_TOTAL].ds[:h]
    y_hat = pd.DataFrame(
        {
            "unique_id": np.repeat(order, h),
            "ds": pd.to_datetime(ds * len(order)),
            "opsdesk": np.concatenate([forecasts[uid].mean[:h] for uid in order]),
        }
    )
    s_df = pd.DataFrame(s, columns=order[-s.shape[1] :])
    s_df.insert(0, "unique_id", order)
    reconciler: Any = BottomUp() if method == "bottom_up" else MinTrace(method=method, nonnegative=True)
    out = HierarchicalReconciliation(reconcilers=[reconciler]).reconcile(
        Y_hat_df=y_hat, S_df=s_df, tags={k: np.asarray(v) for k, v in tags.items()}
    )
    column = next(c for c in out.columns if c.startswith("opsdesk/"))
    return {str(uid): g.sort_values("ds")[column].to_numpy(np.float64) for uid, g in out.groupby("unique_id")}


def _shift(forecast: SeriesForecast, mean: np.ndarray[Any, np.dtype[np.float64]], nonnegative: bool) -> SeriesForecast:
    h = mean.size
    delta = mean - forecast.mean[:h]
    floor = 0.0 if nonnegative else -np.inf

    def moved(band: np.ndarray[Any, np.dtype[np.float64]]) -> np.ndarray[Any, np.dtype[np.float64]]:
        return np.asarray(np.maximum(band[:h] + delta, floor), dtype=np.float64)

    return replace(
        forecast,
        ds=forecast.ds[:h],
        mean=moved(forecast.mean),
        lo80=moved(forecast.lo80),
        hi80=moved(forecast.hi80),
        lo95=moved(forecast.lo95),
        hi95=moved(forecast.hi95),
    )
