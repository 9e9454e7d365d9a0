"""Combining candidate models per series from their rolling-origin backtest errors.

Each candidate is scored per series by its mean MASE over the cross-validation windows. The shipped rule
(`Combiner.INVERSE_TOP_K`, k=3) keeps the three best candidates of that series and weights them by the inverse of
their backtest MASE. It was chosen on a validation split of the M4 Weekly and Hourly *train* data (last horizon held
out, never the test files; see `bench/forecast.py --validate`) against picking the single best candidate and the plain
mean or median of the top k: selecting one model overfits two CV windows, a plain mean lets a poor third member
through, inverse weights do both jobs.

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
