"""Each item's forecast bias as a multiplier, trusted only as far as its own data supports (Buhlmann-Straub)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from opsdesk.planner.learning.feedback import FeedbackPanel


@dataclass(frozen=True)
class BiasCorrection:
    """Multipliers on each item's forecast; an item not listed keeps its forecast (multiplier 1)."""

    multipliers: Mapping[str, float] = field(default_factory=dict)
    credibility: Mapping[str, float] = field(default_factory=dict)  # 0 = prior (1.0) only, 1 = the item's own ratio

    def factor(self, item: str) -> float:
        """The multiplier for one item."""
        return float(self.multipliers.get(item, 1.0))

    def factors(self, items: tuple[str, ...]) -> npt.NDArray[np.float64]:
        """Multipliers for items in the given order."""
        return np.array([self.factor(item) for item in items], dtype=np.float64)


def learn_bias(panel: FeedbackPanel, periods: npt.NDArray[np.bool_]) -> BiasCorrection:
    """Credibility-weighted sold/forecast ratios over the chosen periods, shrunk toward 1.

    Each cell's ratio sold/forecast is weighted by the forecast (so an item's own estimate is the ratio of sums);
    the spread within items and between items (around 1, "no bias") decides how far an item's ratio is trusted:
    Z = w / (w + s2 / tau2). With no spread between items beyond what noise explains, every multiplier is 1.
    Sales are censored by stock, so a sold-out item reads as demand at most its sales.
    """
    usable = panel.has_forecast() & periods[np.newaxis, :]
    weight = np.where(usable, panel.forecast_mean, 0.0)
    ratio = np.where(usable, panel.sold / np.where(usable, panel.forecast_mean, 1.0), 0.0)
    counts = usable.sum(axis=1)
    item_weight = weight.sum(axis=1)
    present = (counts >= 1) & (item_weight > 0)
    if not present.any():
        return BiasCorrection()
    item_ratio = np.divide((weight * ratio).sum(axis=1), item_weight, out=np.ones_like(item_weight), where=present)
    within_dof = np.maximum(counts - 1, 0)
    within_sum = (weight * (ratio - item_ratio[:, np.newaxis]) ** 2 * usable).sum()
    within = within_sum / within_dof.sum() if within_dof.sum() > 0 else 0.0
    total_weight = item_weight[present].sum()
    between = float(
        ((item_weight[present] * (item_ratio[present] - 1.0) ** 2).sum() - present.sum() * within) / total_weight
    )
    multipliers: dict[str, float] = {}
    credibility: dict[str, float] = {}
    for i in np.flatnonzero(present):
        if between <= 0.0:
            z = 0.0
        elif within <= 0.0:
            z = 1.0
        else:
            z = float(item_weight[i] / (item_weight[i] + within / between))
        credibility[panel.items[i]] = z
        multipliers[panel.items[i]] = float(1.0 + z * (item_ratio[i] - 1.0))
    return BiasCorrection(multipliers, credibility)
