"""Demand over the protection period as a distribution, and the order-up-to target it implies."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.special import ndtr

from opsdesk.planner.optimisation.problem import DemandForecast, FloatArray, PlanItem, Weights

SAMPLES = 2000
MIN_RESIDUALS = 8
MIN_OWN_WEEKS = 26  # own weeks beyond one protection period before they set the item's demand curve
# Weekly forecast errors share part of their cause (a level misjudged once stays misjudged), so weeks are drawn
# with this correlation (a Gaussian copula) when only interval bounds are known.
WEEK_CORRELATION = 0.5
# The far tail of a forecast is guesswork: no item is stocked for more than a 99 % service level.
CR_CEILING = 0.99
_LEVELS = np.array([0.0, 0.025, 0.10, 0.5, 0.90, 0.975, 1.0])
# Ratio of the normal 95 % and 80 % half-widths, used only to fill in a missing bound pair.
_HALF_WIDTH_95_OVER_80 = 1.959964 / 1.281552

ErrorSource = Literal[
    "own weekly counts (negative binomial)",
    "own demand bootstrap",
    "backtest residuals",
    "forecast intervals",
    "poisson (no forecast error given)",
]


@dataclass(frozen=True)
class TargetStock:
    """The order-up-to level and its parts, all over the protection period (lead time + review period)."""

    expected_demand: float
    safety_stock: float
    target: int
    on_hand: int
    on_order: int
    critical_ratio: float
    protection_weeks: float
    error_source: ErrorSource

    @property
    def position(self) -> int:
        return self.on_hand + self.on_order

    @property
    def gap(self) -> int:
        """Units needed to reach the target from the stock on hand and on order (never negative)."""
        return max(0, self.target - self.position)


@dataclass(frozen=True, eq=False)
class DemandCurve:
    """Sorted samples of protection-period demand; expected sales of a stock level follow from them."""

    samples: FloatArray
    mean: float
    weeks: float
    lead_time_mean: float
    source: ErrorSource

    def expected_sales(self, stock: FloatArray | float) -> FloatArray:
        """E[min(stock, D)]: concave in stock, and its slope at k is P(D >= k)."""
        levels = np.atleast_1d(np.asarray(stock, dtype=np.float64))
        n = self.samples.size
        below = np.searchsorted(self.samples, levels, side="left")
        cumulative = np.concatenate(([0.0], np.cumsum(self.samples)))
        return np.asarray((cumulative[below] + levels * (n - below)) / n, dtype=np.float64)

    def quantile(self, p: float) -> float:
        return float(np.quantile(self.samples, p))

    @property
    def daily(self) -> float:
        return self.mean / (self.weeks * 7.0) if self.weeks > 0 else 0.0


def _week_weights(weeks: float) -> FloatArray:
    count = max(1, math.ceil(weeks))
    return np.clip(weeks - np.arange(count, dtype=np.float64), 0.0, 1.0)


def _extend(values: FloatArray, count: int) -> FloatArray:
    """A horizon shorter than the protection period repeats its last week."""
    if values.size >= count:
        return values[:count]
    return np.concatenate((values, np.repeat(values[-1:], count - values.size)))


def _bounds(forecast: DemandForecast, count: int) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray] | None:
    mean = _extend(forecast.mean, count)
    lo80, hi80, lo95, hi95 = forecast.lo80, forecast.hi80, forecast.lo95, forecast.hi95
    if lo80 is not None and hi80 is not None:
        l80, h80 = _extend(lo80, count), _extend(hi80, count)
        if lo95 is not None and hi95 is not None:
            return l80, h80, _extend(lo95, count), _extend(hi95, count)
        return l80, h80, mean - (mean - l80) * _HALF_WIDTH_95_OVER_80, mean + (h80 - mean) * _HALF_WIDTH_95_OVER_80
    if lo95 is not None and hi95 is not None:
        l95, h95 = _extend(lo95, count), _extend(hi95, count)
        return mean - (mean - l95) / _HALF_WIDTH_95_OVER_80, mean + (h95 - mean) / _HALF_WIDTH_95_OVER_80, l95, h95
    return None


def _from_intervals(
    mean: FloatArray,
    bounds: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    w: FloatArray,
    rng: np.random.Generator,
) -> FloatArray:
    lo80, hi80, lo95, hi95 = bounds
    common = rng.standard_normal((SAMPLES, 1))
    own = rng.standard_normal((SAMPLES, w.size))
    u = ndtr(math.sqrt(WEEK_CORRELATION) * common + math.sqrt(1 - WEEK_CORRELATION) * own)
    total = np.zeros(SAMPLES)
    for t in range(w.size):
        knots = np.array(
            [lo95[t] - (lo80[t] - lo95[t]), lo95[t], lo80[t], mean[t], hi80[t], hi95[t], hi95[t] + (hi95[t] - hi80[t])]
        )
        knots = np.maximum.accumulate(knots)
        total += w[t] * np.interp(u[:, t], _LEVELS, knots)
    return total


def _from_residuals(mean: FloatArray, residuals: FloatArray, w: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Block bootstrap: consecutive weeks of backtest error keep their autocorrelation."""
    span = w.size
    if residuals.size >= span + MIN_RESIDUALS // 2:
        starts = rng.integers(0, residuals.size - span + 1, SAMPLES)
        errors = residuals[starts[:, None] + np.arange(span)]
    else:
        errors = residuals[rng.integers(0, residuals.size, (SAMPLES, span))]
    return np.asarray(float(w @ mean) + errors @ w, dtype=np.float64)


def _own_demand(recent: FloatArray, w: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Willemain's bootstrap: protection periods cut from the item's own consecutive weeks (with their zeros)."""
    span = w.size
    starts = rng.integers(0, recent.size - span + 1, SAMPLES)
    return np.asarray(recent[starts[:, None] + np.arange(span)] @ w, dtype=np.float64)


def _counts_like(draws: FloatArray) -> FloatArray:
    """Whole units: a negative binomial with the draws' mean and variance, the variance at least a count's (its mean).

    A dozen or two backtest errors can understate the spread of a slow item's period demand several times over (a
    9-week variance of 3 around a mean of 15, where Poisson counts alone give 15).
    """
    from scipy import stats  # scipy.stats costs about a second at import: loaded on first use

    mean = float(draws.mean())
    if mean <= 0:
        return draws
    variance = float(draws.var())
    if variance <= mean * (1 + 1e-6):
        return np.asarray(stats.poisson.ppf(_LEVELS_STRATIFIED, mean), dtype=np.float64)
    size = mean * mean / (variance - mean)
    return np.asarray(stats.nbinom.ppf(_LEVELS_STRATIFIED, size, size / (size + mean)), dtype=np.float64)


def _own_counts(recent: FloatArray, weeks: float, bias: float) -> tuple[FloatArray, float] | None:
    """Protection-period demand of a slow item as a negative binomial fitted to its own weekly counts.

    Mean: the weeks' rate times the period; variance: the weeks' own variance-to-mean ratio (at least Poisson's 1)
    times the mean, plus the uncertainty of a rate estimated from `recent.size` weeks (weeks² x var / n). A
    quantile read off this fitted curve moves smoothly with the rate, where the bootstrap's upper quantiles are the
    few largest stretches of 78 weeks (about seven independent ones for a 10-week period). None when the weeks are
    not whole units (the count model does not apply) or hold no demand.
    """
    from scipy import stats  # scipy.stats costs about a second at import: loaded on first use

    if not np.array_equal(recent, np.round(recent)):
        return None
    rate = float(recent.mean())
    if rate <= 0:
        return None
    spread = float(recent.var(ddof=1))
    mean = rate * weeks * bias
    variance = (max(1.0, spread / rate) * rate * weeks + weeks * weeks * spread / recent.size) * bias * bias
    levels = (np.arange(SAMPLES, dtype=np.float64) + 0.5) / SAMPLES  # stratified: exact quantiles, no draw noise
    if variance <= mean * (1 + 1e-6):
        return np.asarray(stats.poisson.ppf(levels, mean), dtype=np.float64), mean
    size = mean * mean / (variance - mean)
    return np.asarray(stats.nbinom.ppf(levels, size, size / (size + mean)), dtype=np.float64), mean


def demand_curve(item: PlanItem, bias: float = 1.0) -> DemandCurve:
    """Protection-period demand drawn from the forecast's own error; the mean stays the forecast's (times bias).

    Intermittent items that carry their own latest weeks (`recent_demand`, at least a protection period plus
    `MIN_OWN_WEEKS`) are the exception: their protection-period demand comes from those weeks, level included. A
    Croston rate that follows the last few sales misjudges the next 8 weeks more than the item's long-run rate
    does. Whole-unit weeks get a negative binomial fitted to their rate and spread (`_own_counts`); other weeks
    are bootstrapped in consecutive stretches (Willemain). See docs/benchmarks.md for the measurements.
    """
    weeks = max(0.0, item.lead_time_weeks) + max(0.0, item.review_weeks)
    w = _week_weights(weeks)
    forecast = item.forecast
    mean = np.maximum(_extend(forecast.mean, w.size), 0.0)
    expected = float(w @ mean) * bias
    lead_w = _week_weights(max(0.0, item.lead_time_weeks)) if item.lead_time_weeks > 0 else np.zeros(0)
    lead_mean = float(lead_w @ mean[: lead_w.size]) * bias if lead_w.size else 0.0
    rng = np.random.default_rng(zlib.crc32(item.id.encode()))
    residuals = forecast.residuals
    bounds = _bounds(forecast, w.size)
    source: ErrorSource
    recent = forecast.recent_demand
    if recent is not None and np.isfinite(recent).all() and recent.size >= w.size + MIN_OWN_WEEKS:
        lead_mean = float(lead_w @ np.full(lead_w.size, float(recent.mean()))) * bias if lead_w.size else 0.0
        counted = _own_counts(recent, weeks, bias)
        if counted is not None:
            return DemandCurve(counted[0], counted[1], weeks, lead_mean, "own weekly counts (negative binomial)")
        draws = np.maximum(_own_demand(recent, w, rng), 0.0) * bias
        return DemandCurve(np.sort(draws), float(draws.mean()), weeks, lead_mean, "own demand bootstrap")
    if residuals is not None and np.isfinite(residuals).sum() >= MIN_RESIDUALS:
        draws = _from_residuals(mean, residuals[np.isfinite(residuals)], w, rng)
        source = "backtest residuals"
    elif bounds is not None:
        draws = _from_intervals(mean, bounds, w, rng)
        source = "forecast intervals"
    else:
        draws = rng.poisson(max(float(w @ mean), 0.0), SAMPLES).astype(np.float64)
        source = "poisson (no forecast error given)"
    draws = np.maximum(draws, 0.0)
    drawn_mean = float(draws.mean())
    # Demand cannot be negative: clipping raises the mean, so the shape is kept and the mean set back to the forecast.
    draws = draws * (expected / drawn_mean) if drawn_mean > 0 else np.zeros(SAMPLES)
    if source == "backtest residuals":
        draws = _counts_like(draws) if forecast.whole_units else _gamma_like(draws)
    return DemandCurve(np.sort(draws), expected, weeks, lead_mean, source)


_LEVELS_STRATIFIED = (np.arange(SAMPLES, dtype=np.float64) + 0.5) / SAMPLES


def _gamma_like(draws: FloatArray) -> FloatArray:
    """A gamma curve with the draws' mean and variance, at exact stratified quantiles.

    Two backtest windows give a dozen or two errors, so a block bootstrap over a protection period cuts only a few
    distinct stretches, and its upper quantiles are the largest of them; the fitted curve keeps their mean and
    spread (and so their autocorrelation) but not that sparseness.
    """
    from scipy import stats  # scipy.stats costs about a second at import: loaded on first use

    mean, variance = float(draws.mean()), float(draws.var())
    if mean <= 0 or variance <= 0:
        return draws
    levels = _LEVELS_STRATIFIED
    return np.asarray(stats.gamma.ppf(levels, mean * mean / variance, scale=variance / mean), dtype=np.float64)


def holding_cost(item: PlanItem, holding_rate_per_year: float) -> float:
    """Carrying one unit one review period longer (the cost of a unit left over)."""
    return item.unit_cost * holding_rate_per_year * max(item.review_weeks, 1.0 / 7.0) / 52.0


def unit_value(item: PlanItem, weights: Weights, holding: float) -> tuple[float, float]:
    """(value of an expected sale, cost of an expected unit of stock) in the weighted objective."""
    sale = weights.margin * item.margin + weights.holding * holding + weights.shortage * item.shortage_cost
    return sale, max(weights.holding * holding, (1.0 - CR_CEILING) * sale)


def critical_ratio(item: PlanItem, weights: Weights, holding: float) -> float:
    """Service level where one more unit's expected sale stops paying for its expected stock cost."""
    sale, stock = unit_value(item, weights, holding)
    return max(0.0, 1.0 - stock / sale) if sale > 0 else 0.0


def target_stock(item: PlanItem, curve: DemandCurve, weights: Weights, holding_rate_per_year: float) -> TargetStock:
    """Newsvendor order-up-to level: the integer stock that maximises weighted expected profit of the period."""
    holding = holding_cost(item, holding_rate_per_year)
    ratio = critical_ratio(item, weights, holding)
    level = curve.quantile(ratio)
    sale, stock = unit_value(item, weights, holding)
    candidates = np.array([math.floor(level), math.ceil(level)], dtype=np.float64)
    value = sale * curve.expected_sales(candidates) - stock * candidates
    target = int(candidates[int(np.argmax(value))]) if sale > 0 else 0
    return TargetStock(
        expected_demand=curve.mean,
        safety_stock=target - curve.mean,
        target=max(0, target),
        on_hand=item.on_hand,
        on_order=item.on_order,
        critical_ratio=ratio,
        protection_weeks=curve.weeks,
        error_source=curve.source,
    )
