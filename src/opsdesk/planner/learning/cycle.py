"""A learning cycle: fit bias and weights on earlier periods, keep them only if the latest periods say so."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from opsdesk.planner.learning.bias import BiasCorrection, learn_bias
from opsdesk.planner.learning.feedback import FeedbackError, FeedbackPanel, FeedbackRow, build_panel
from opsdesk.planner.learning.weights import PlannerWeights, newsvendor_quantity

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Tilts searched: (margin + shortage) / holding from about 1/7 to 7 times the plain newsvendor's.
_TILTS = np.round(np.linspace(-2.0, 2.0, 41), 6)


@dataclass(frozen=True)
class LearningCycle:
    """The record of one cycle: what was proposed, what it measured on held-out periods, and what is now in force."""

    old_weights: PlannerWeights
    new_weights: PlannerWeights
    old_bias: BiasCorrection
    new_bias: BiasCorrection
    accepted: bool
    reason: str
    train_periods: tuple[date, ...]
    holdout_periods: tuple[date, ...]
    objective_before: float  # realised gross minus holding cost on the held-out periods, old weights and bias
    objective_after: float  # the same periods, the proposed weights and bias
    before_by_period: tuple[float, ...]
    after_by_period: tuple[float, ...]
    t_statistic: float
    cells_used: int  # held-out item-periods that had a forecast
    cells_skipped: int  # item-periods without a forecast (they cannot be scored)

    @property
    def weights(self) -> PlannerWeights:
        """The weights in force after the cycle."""
        return self.new_weights if self.accepted else self.old_weights

    @property
    def bias(self) -> BiasCorrection:
        """The bias correction in force after the cycle."""
        return self.new_bias if self.accepted else self.old_bias

    @property
    def change(self) -> float:
        """Held-out objective after minus before."""
        return self.objective_after - self.objective_before

    @property
    def relative_change(self) -> float | None:
        """The change as a share of the old objective's size; None when the old objective is zero."""
        return self.change / abs(self.objective_before) if self.objective_before else None


def run_learning_cycle(
    rows: Iterable[FeedbackRow],
    unit_holding_cost: Mapping[str, float] | float,
    *,
    weights: PlannerWeights | None = None,
    bias: BiasCorrection | None = None,
    holdout_periods: int = 8,
    min_train_periods: int = 8,
    min_t: float = 2.0,
) -> LearningCycle:
    """Learns on all but the latest ``holdout_periods`` periods and accepts only a significant held-out gain.

    unit_holding_cost: carrying cost of one unit for one period (per item, or one figure for all), in the
    currency of gross profit. A cycle is accepted when the held-out objective rises and the per-period gains
    have a one-sided t statistic of at least ``min_t``; otherwise the old weights and bias stay.
    """
    old_weights = weights or PlannerWeights()
    old_bias = bias or BiasCorrection()
    panel = build_panel(rows)
    usable = panel.has_forecast()
    periods = len(panel.periods)
    holdout = np.zeros(periods, dtype=bool)
    holdout[max(periods - holdout_periods, 0) :] = True
    train = ~holdout

    def rejected(reason: str) -> LearningCycle:
        return _cycle(panel, old_weights, old_weights, old_bias, old_bias, False, reason, train, holdout)

    if holdout_periods < 2 or periods < holdout_periods + min_train_periods:
        return rejected(
            f"not enough periods: {periods} with feedback, {holdout_periods} held out and {min_train_periods} "
            "needed to learn from"
        )
    holding = _unit_holding(panel, unit_holding_cost)
    margin = _unit_margin(panel, train)
    if margin is None:
        return rejected("no sales with gross profit in the periods to learn from")
    if not (usable & train[np.newaxis, :]).any() or not (usable & holdout[np.newaxis, :]).any():
        return rejected("no forecasts recorded for the periods to learn from or to test on")

    new_bias = learn_bias(panel, train)
    factors = new_bias.factors(panel.items)
    scores = [
        _objective(panel, train, factors, PlannerWeights.from_tilt(tilt), margin, holding).sum() for tilt in _TILTS
    ]
    best = max(scores)
    old_tilt = old_weights.tilt()
    ties = [tilt for tilt, score in zip(_TILTS, scores, strict=True) if score >= best - 1e-9 * max(1.0, abs(best))]
    tilt = float(min(ties, key=lambda candidate: abs(candidate - old_tilt)))
    new_weights = PlannerWeights.from_tilt(tilt, margin=old_weights.margin)

    before = _objective(panel, holdout, old_bias.factors(panel.items), old_weights, margin, holding)
    after = _objective(panel, holdout, factors, new_weights, margin, holding)
    scored = np.asarray((usable & holdout[np.newaxis, :]).any(axis=0), dtype=bool)[holdout]
    gains = (after - before)[scored]
    t_stat = _t_statistic(gains)
    accepted = bool(gains.sum() > 0 and t_stat >= min_t)
    total_before, total_after = float(before.sum()), float(after.sum())
    verdict = "accepted" if accepted else "rejected"
    why = "" if accepted else (" (no gain)" if gains.sum() <= 0 else f" (gain not significant: t below {min_t:g})")
    reason = (
        f"{verdict}{why}: held-out objective {total_before:,.2f} -> {total_after:,.2f} over {int(scored.sum())} "
        f"periods, t = {t_stat:.2f}"
    )
    return _cycle(
        panel, old_weights, new_weights, old_bias, new_bias, accepted, reason, train, holdout, before, after, t_stat
    )


def _cycle(
    panel: FeedbackPanel,
    old_weights: PlannerWeights,
    new_weights: PlannerWeights,
    old_bias: BiasCorrection,
    new_bias: BiasCorrection,
    accepted: bool,
    reason: str,
    train: BoolArray,
    holdout: BoolArray,
    before: FloatArray | None = None,
    after: FloatArray | None = None,
    t_stat: float = 0.0,
) -> LearningCycle:
    usable = panel.has_forecast()
    observed = np.isfinite(panel.sold)
    before_values = tuple(float(v) for v in before) if before is not None else ()
    after_values = tuple(float(v) for v in after) if after is not None else ()
    return LearningCycle(
        old_weights=old_weights,
        new_weights=new_weights,
        old_bias=old_bias,
        new_bias=new_bias,
        accepted=accepted,
        reason=reason,
        train_periods=tuple(p for p, keep in zip(panel.periods, train, strict=True) if keep),
        holdout_periods=tuple(p for p, keep in zip(panel.periods, holdout, strict=True) if keep),
        objective_before=float(sum(before_values)),
        objective_after=float(sum(after_values)),
        before_by_period=before_values,
        after_by_period=after_values,
        t_statistic=t_stat,
        cells_used=int((usable & holdout[np.newaxis, :]).sum()),
        cells_skipped=int((observed & ~usable).sum()),
    )


def _unit_holding(panel: FeedbackPanel, cost: Mapping[str, float] | float) -> FloatArray:
    if isinstance(cost, int | float):
        return np.full(len(panel.items), float(cost))
    missing = [item for item in panel.items if item not in cost]
    if missing:
        raise FeedbackError(f"no holding cost for {', '.join(missing[:5])}")
    return np.array([float(cost[item]) for item in panel.items], dtype=np.float64)


def _unit_margin(panel: FeedbackPanel, periods: BoolArray) -> FloatArray | None:
    """Gross profit per unit sold, per item, over the chosen periods; items without sales take the pooled figure."""
    cells = np.isfinite(panel.sold) & np.isfinite(panel.gross_profit) & periods[np.newaxis, :]
    sold = np.where(cells, panel.sold, 0.0).sum(axis=1)
    gross = np.where(cells, panel.gross_profit, 0.0).sum(axis=1)
    if sold.sum() <= 0:
        return None
    pooled = gross.sum() / sold.sum()
    return np.asarray(np.divide(gross, sold, out=np.full_like(sold, pooled), where=sold > 0), dtype=np.float64)


def _objective(
    panel: FeedbackPanel,
    periods: BoolArray,
    factors: FloatArray,
    weights: PlannerWeights,
    unit_margin: FloatArray,
    unit_holding: FloatArray,
) -> FloatArray:
    """Per chosen period: realised gross on what the policy would have stocked minus holding on what was left over.

    Single-period scoring: a unit left over costs one period's holding; realised gross per unit is the period's own
    gross / sold where there were sales, else the item's learned unit margin.
    """
    cells = panel.has_forecast() & periods[np.newaxis, :]
    scale = factors[:, np.newaxis]
    ratio = weights.critical_ratio(unit_margin, unit_holding)[:, np.newaxis]
    mean = np.where(cells, panel.forecast_mean, 0.0) * scale
    sigma = np.where(cells & np.isfinite(panel.forecast_sigma), panel.forecast_sigma, 0.0) * scale
    quantity = newsvendor_quantity(mean, sigma, np.broadcast_to(ratio, mean.shape))
    sold = np.where(cells, panel.sold, 0.0)
    gross = np.where(cells & np.isfinite(panel.gross_profit), panel.gross_profit, 0.0)
    per_unit = np.divide(
        gross, sold, out=np.broadcast_to(unit_margin[:, np.newaxis], sold.shape).copy(), where=sold > 0
    )
    value = per_unit * np.minimum(quantity, sold) - unit_holding[:, np.newaxis] * np.maximum(quantity - sold, 0.0)
    return np.asarray(np.where(cells, value, 0.0).sum(axis=0)[periods], dtype=np.float64)


def _t_statistic(gains: FloatArray) -> float:
    """One-sided paired t statistic of per-period gains (periods, not item-periods, are the independent units)."""
    if gains.size == 0:
        return 0.0
    mean = float(gains.mean())
    spread = float(gains.std(ddof=1)) if gains.size > 1 else 0.0
    if spread == 0.0:
        return math.inf if mean > 0 else 0.0
    return mean / (spread / math.sqrt(gains.size))
