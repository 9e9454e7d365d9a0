"""Forecast errors with the M4 competition's definitions, so backtests and the bench speak the same units.

sMAPE is in percent, 200·|y-ŷ|/(|y|+|ŷ|) (some libraries report half of it); MASE divides the mean absolute error
by the in-sample mean absolute error of the seasonal naive forecast with period `m`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def smape(y: FloatArray, yhat: FloatArray) -> float:
    """M4 sMAPE in percent; a step where both actual and forecast are zero counts as no error."""
    denom = np.abs(y) + np.abs(yhat)
    safe = np.where(denom == 0, 1.0, denom)
    terms = np.where(denom == 0, 0.0, 200.0 * np.abs(y - yhat) / safe)
    return float(terms.mean())


def naive_scale(history: FloatArray, m: int) -> float:
    """In-sample mean absolute error of the seasonal naive forecast (falls back to m=1, then to the level)."""
    lag = m if history.size > m else 1
    if history.size <= lag:
        return float(np.abs(history).mean()) if history.size else 1.0
    return float(np.abs(history[lag:] - history[:-lag]).mean())


def mase(y: FloatArray, yhat: FloatArray, history: FloatArray, m: int) -> float:
    """M4 MASE; a constant history (zero scale) is scaled by its level, or by 1 when that is zero too."""
    scale = naive_scale(history, m)
    if scale == 0:
        scale = float(np.abs(history).mean()) or 1.0
    return float(np.abs(y - yhat).mean() / scale)
