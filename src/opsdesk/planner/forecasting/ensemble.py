"""Combining candidate models per series from their rolling-origin backtest errors.

Each candidate is scored per series by its mean MASE over the cross-validation windows. The shipped rule
(`Combiner.INVERSE_TOP_K`, k=3) keeps the three best candidates of that series and weights them by the inverse of
their backtest MASE. Why: picking the single best model from two short CV windows overfits the windows' noise, a plain
mean lets a poor candidate (e.g. a seasonal naive on trend data) pull the forecast, and inverse weights shrink toward
the better members without betting on one. Validation: the tests check the ensemble is never worse than its worst
member on a seasonal panel; `bench/forecast.py --validate --opsdesk-options '{"combiner": "best"}'` compares the rules
on the M4 *train* split (last horizon held out, test files never read). A full comparison of the four rules on that
split is still to be run and recorded.

Intervals of an ensemble combine the members' own quantiles with the same weights (quantile averaging). Because
every member has lo95 ≤ lo80 ≤ mean ≤ hi80 ≤ hi95, any weighted average or median keeps that order.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# Row order of a member's band block: (lo95, lo80, mean, hi80, hi95) x horizon.
BANDS = ("lo95", "lo80", "mean", "hi80", "hi95")


class Combiner(StrEnum):
    """How backtest errors turn into a forecast."""

    BEST = "best"
    MEAN_TOP_K = "mean_top_k"
    MEDIAN_TOP_K = "median_top_k"
    INVERSE_TOP_K = "inverse_top_k"


def choose_weights(errors: FloatArray, combiner: Combiner, k: int = 3) -> FloatArray:
    """Weights over candidates (summing to 1) from their backtest errors; non-finite errors get no weight."""
    errors = np.asarray(errors, dtype=np.float64)
    combiner = Combiner(combiner)
    finite = np.isfinite(errors)
    weights = np.zeros_like(errors)
    if not finite.any():
        weights[:] = 1.0 / errors.size
        return weights
    order = [int(i) for i in np.argsort(np.where(finite, errors, np.inf)) if finite[i]]
    if combiner is Combiner.BEST:
        weights[order[0]] = 1.0
        return weights
    top = order[: max(1, k)]
    if combiner is Combiner.INVERSE_TOP_K:
        inv = 1.0 / np.maximum(errors[top], 1e-9)
        weights[top] = inv / inv.sum()
    else:
        weights[top] = 1.0 / len(top)
    return weights


def combine(members: FloatArray, weights: FloatArray, combiner: Combiner) -> FloatArray:
    """Band block (5, h) of the ensemble from members' blocks (n, 5, h): weighted mean, or median of the chosen."""
    chosen = weights > 0
    if Combiner(combiner) is Combiner.MEDIAN_TOP_K:
        return np.asarray(np.median(members[chosen], axis=0), dtype=np.float64)
    w = weights[chosen] / weights[chosen].sum()
    return np.asarray(np.tensordot(w, members[chosen], axes=1), dtype=np.float64)


def ensemble_name(names: list[str], weights: FloatArray, combiner: Combiner) -> str:
    """A readable name: the model itself when one carries all the weight, else the rule and its members."""
    chosen = [names[i] for i in np.argsort(-weights) if weights[i] > 0]
    if len(chosen) == 1:
        return str(chosen[0])
    return f"{Combiner(combiner).value}({'+'.join(chosen)})"
