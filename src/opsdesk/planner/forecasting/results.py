"""What a forecast run hands back: one record per series, plain enough for the service layer to store."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SeriesForecast:
    """One series' forecast: the model that made it, how it did in backtest, and its 80/95 % intervals."""

    unique_id: str
    model: str
    pattern: str
    ds: list[date]
    mean: FloatArray
    lo80: FloatArray
    hi80: FloatArray
    lo95: FloatArray
    hi95: FloatArray
    backtest_mase: float | None = None
    backtest_smape: float | None = None
    fallback: str | None = None
    weights: dict[str, float] = field(default_factory=dict)
    # Actual minus forecast in the rolling-origin backtest (window by window, step by step): the error sample
    # that order-up-to levels are drawn from. None for the historic-mean fallback.
    residuals: FloatArray | None = None
    # Intermittent and lumpy series, and whole-unit series whose own rate beat the ensemble in backtest: their
    # latest weeks of demand, oldest first, from which the lead-time demand is drawn.
    recent_demand: FloatArray | None = None
    # Every observed period was a whole number of units (vehicles, not kilograms or dollars): a count's spread
    # (at least its mean) is the floor of the demand curve drawn from the backtest errors.
    whole_units: bool = False


@dataclass(frozen=True)
class ReconciledForecast:
    """Forecasts for every level of item → line → total, reconciled so the parts add up to the totals."""

    items: list[SeriesForecast]
    lines: list[SeriesForecast]
    total: SeriesForecast
    method: str


def _num(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 6)


def _arr(values: FloatArray) -> list[float | None]:
    return [_num(float(v)) for v in values]


def to_dict(forecast: SeriesForecast) -> dict[str, Any]:
    """A JSON-able dict (dates as ISO strings, NaN as None) for storage and the API."""
    return {
        "unique_id": forecast.unique_id,
        "model": forecast.model,
        "pattern": forecast.pattern,
        "ds": [d.isoformat() for d in forecast.ds],
        "mean": _arr(forecast.mean),
        "lo80": _arr(forecast.lo80),
        "hi80": _arr(forecast.hi80),
        "lo95": _arr(forecast.lo95),
        "hi95": _arr(forecast.hi95),
        "backtest_mase": _num(forecast.backtest_mase),
        "backtest_smape": _num(forecast.backtest_smape),
        "fallback": forecast.fallback,
        "weights": {name: round(w, 6) for name, w in forecast.weights.items()},
        "residuals": None if forecast.residuals is None else _arr(forecast.residuals),
        "recent_demand": None if forecast.recent_demand is None else _arr(forecast.recent_demand),
        "whole_units": forecast.whole_units,
    }


def reconciled_to_dict(result: ReconciledForecast) -> dict[str, Any]:
    """A JSON-able dict of all three levels."""
    return {
        "method": result.method,
        "items": [to_dict(f) for f in result.items],
        "lines": [to_dict(f) for f in result.lines],
        "total": to_dict(result.total),
    }
