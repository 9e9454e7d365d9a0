"""Outcome feedback as item x period arrays, so learning works on numbers and never on rows."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class FeedbackError(ValueError):
    """Feedback that cannot be learned from as given (a duplicate item and period, a negative quantity)."""


@dataclass(frozen=True)
class FeedbackRow:
    """What happened to one item in one period, beside the forecast that was made for it (when there was one)."""

    item: str
    period: date  # the week's start
    recommended: float
    ordered: float
    sold: float
    gross_profit: float
    days_to_turn: float | None = None
    forecast_mean: float | None = None
    forecast_low: float | None = None
    forecast_high: float | None = None
    interval_level: float = 0.8  # the central coverage of [forecast_low, forecast_high]


@dataclass(frozen=True)
class FeedbackPanel:
    """Feedback as (items x periods) arrays; a missing observation is NaN, periods ascend."""

    items: tuple[str, ...]
    periods: tuple[date, ...]
    sold: FloatArray
    gross_profit: FloatArray
    forecast_mean: FloatArray
    forecast_sigma: FloatArray

    def has_forecast(self) -> npt.NDArray[np.bool_]:
        """Cells with both an outcome and a usable forecast."""
        return np.isfinite(self.sold) & np.isfinite(self.forecast_mean) & (self.forecast_mean > 0)


def forecast_sigma(mean: float, low: float | None, high: float | None, level: float) -> float:
    """The forecast's standard deviation read from its central interval; Poisson (sqrt of the mean) without one."""
    if low is not None and high is not None and high > low and 0.0 < level < 1.0:
        from scipy.stats import norm  # scipy.stats costs about a second at import: loaded on first use

        return float((high - low) / (2.0 * norm.ppf(0.5 + level / 2.0)))
    return math.sqrt(max(mean, 0.0))


def build_panel(rows: Iterable[FeedbackRow]) -> FeedbackPanel:
    """Arranges rows by item and ascending period, whatever order they came in."""
    rows = list(rows)
    seen: set[tuple[str, date]] = set()
    for row in rows:
        key = (row.item, row.period)
        if key in seen:
            raise FeedbackError(f"two feedback rows for item {row.item!r} in period {row.period.isoformat()}")
        seen.add(key)
        if row.sold < 0 or row.ordered < 0 or row.recommended < 0:
            raise FeedbackError(f"negative quantity for item {row.item!r} in period {row.period.isoformat()}")
    items = tuple(sorted({row.item for row in rows}))
    periods = tuple(sorted({row.period for row in rows}))
    item_at = {item: i for i, item in enumerate(items)}
    period_at = {period: t for t, period in enumerate(periods)}
    shape = (len(items), len(periods))
    sold, gross, mean, sigma = (np.full(shape, np.nan) for _ in range(4))
    for row in rows:
        i, t = item_at[row.item], period_at[row.period]
        sold[i, t] = row.sold
        gross[i, t] = row.gross_profit
        if row.forecast_mean is not None and math.isfinite(row.forecast_mean):
            mean[i, t] = row.forecast_mean
            sigma[i, t] = forecast_sigma(row.forecast_mean, row.forecast_low, row.forecast_high, row.interval_level)
    return FeedbackPanel(items, periods, sold, gross, mean, sigma)


_COLUMNS = ("item", "period", "recommended", "ordered", "sold", "gross_profit")
_OPTIONAL = ("days_to_turn", "forecast_mean", "forecast_low", "forecast_high")


def rows_from_records(records: Sequence[dict[str, Any]]) -> list[FeedbackRow]:
    """Rows from plain records (a data frame's ``to_dict("records")``); absent or NaN optional values become None."""
    rows: list[FeedbackRow] = []
    for record in records:
        missing = [name for name in _COLUMNS if name not in record]
        if missing:
            raise FeedbackError(f"feedback record without {', '.join(missing)}")
        optional = {name: _optional(record.get(name)) for name in _OPTIONAL}
        period = record["period"]
        rows.append(
            FeedbackRow(
                item=str(record["item"]),
                period=period.date() if hasattr(period, "date") and callable(period.date) else period,
                recommended=float(record["recommended"]),
                ordered=float(record["ordered"]),
                sold=float(record["sold"]),
                gross_profit=float(record["gross_profit"]),
                interval_level=float(record.get("interval_level", 0.8)),
                **optional,
            )
        )
    return rows


def _optional(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
