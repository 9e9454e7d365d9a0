"""A seasonal candidate that needs one season of history: last season's values moved to the current level.

statsforecast's seasonal ARIMA, ETS, Theta and MSTL need two full seasons before they estimate a season; a weekly
series with 60 weeks of history would get no seasonal model but the plain seasonal naive, which carries last year's
level (and last year's noise) unchanged. `SeasonalLevelNaive` keeps last season's shape and shifts it by how much the
level moved: forecast(n + k) = y[n - m + k mod m] + mean(y[n - w:]) - mean(y[n - m - w : n - m]) with a level window
w of a few periods. Intervals come from the rule's own in-sample errors (normal bands on their spread).
It follows statsforecast's model protocol (`forecast`, `fit`/`predict`, `new`, `alias`), so it runs in
`StatsForecast` beside the library's models, cross-validation and the Dask backend included.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri
from statsforecast.models import _TS

FloatArray = npt.NDArray[np.float64]
LEVEL_WINDOW = 8


def level_naive_points(y: FloatArray, h: int, season: int, window: int = LEVEL_WINDOW) -> FloatArray:
    """Point forecast of the rule; a history shorter than season + window gets the plain seasonal naive (or naive)."""
    n = y.size
    if n == 0:
        return np.zeros(h)
    if n < season:
        return np.full(h, float(y[-1]))
    base = y[n - season + np.arange(h) % season]
    if window < 1 or n < season + window:
        return np.asarray(base, dtype=np.float64)
    shift = float(y[n - window :].mean() - y[n - season - window : n - season].mean())
    return np.asarray(base + shift, dtype=np.float64)


def _in_sample_errors(y: FloatArray, season: int, window: int) -> FloatArray:
    """One-step errors of the rule over the history it can be applied to (seasonal differences when too short)."""
    n = y.size
    start = season + window
    if window >= 1 and n - start >= 4:
        level = np.convolve(y, np.ones(window) / window, mode="valid")  # level[i] = mean(y[i : i + window])
        t = np.arange(start, n)
        predicted = y[t - season] + level[t - window] - level[t - season - window]
        return np.asarray(y[t] - predicted, dtype=np.float64)
    if n > season + 1:
        return np.asarray(y[season:] - y[:-season], dtype=np.float64)
    return np.asarray(np.diff(y), dtype=np.float64)


class SeasonalLevelNaive(_TS):  # type: ignore[misc]
    """Last season's values shifted by the change in level between the recent window and a season before it."""

    def __init__(self, season_length: int, window: int = LEVEL_WINDOW, alias: str = "SeasonalLevelNaive") -> None:
        self.season_length = season_length
        self.window = window
        self.alias = alias
        self.prediction_intervals = None

    def forecast(
        self,
        y: FloatArray,
        h: int,
        X: Any = None,
        X_future: Any = None,
        level: list[int] | None = None,
        fitted: bool = False,
    ) -> dict[str, FloatArray]:
        """Forecast `h` steps of `y` (statsforecast calls this once per series and window)."""
        values = np.asarray(y, dtype=np.float64)
        out = {"mean": level_naive_points(values, h, self.season_length, self.window)}
        if level:
            errors = _in_sample_errors(values, self.season_length, self.window)
            sigma = float(np.sqrt(np.mean(errors**2))) if errors.size else 0.0
            growth = np.sqrt(1.0 + np.arange(h) // max(1, self.season_length))
            for lv in sorted(level):
                half = float(ndtri(0.5 + lv / 200.0)) * sigma * growth
                out[f"lo-{lv}"] = out["mean"] - half
                out[f"hi-{lv}"] = out["mean"] + half
        if fitted:
            out["fitted"] = np.full(values.size, np.nan)
        return out

    def fit(self, y: FloatArray, X: Any = None) -> SeasonalLevelNaive:
        """Keeps the history; the rule has nothing to estimate."""
        self._y = np.asarray(y, dtype=np.float64)
        return self

    def predict(self, h: int, X: Any = None, level: list[int] | None = None) -> dict[str, FloatArray]:
        """Forecast from the history given to `fit`."""
        return self.forecast(self._y, h, level=level)

    def predict_in_sample(self, level: list[int] | None = None) -> dict[str, FloatArray]:
        """No in-sample fit is kept (the planner never asks for one)."""
        return {"fitted": np.full(self._y.size, np.nan)}
