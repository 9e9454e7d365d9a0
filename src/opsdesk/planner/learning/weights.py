"""The optimiser's scoring weights and the newsvendor quantity they imply."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PlannerWeights:
    """Weights on the terms of the objective: margin x expected gross - holding x expected carrying cost
    - shortage x expected lost margin (goodwill beyond the margin itself)."""

    margin: float = 1.0
    holding: float = 1.0
    shortage: float = 0.0

    def tilt(self) -> float:
        """log of (margin + shortage) / holding: 0 is the plain newsvendor, above it orders more, below it less."""
        return math.log((self.margin + self.shortage) / self.holding)

    @classmethod
    def from_tilt(cls, tilt: float, margin: float = 1.0) -> PlannerWeights:
        """Weights with the given tilt: a positive tilt is carried by the shortage weight, a negative by holding."""
        if tilt >= 0.0:
            return cls(margin=margin, holding=1.0, shortage=margin * (math.exp(tilt) - 1.0))
        return cls(margin=margin, holding=math.exp(-tilt), shortage=0.0)

    def critical_ratio(self, unit_margin: FloatArray, unit_holding: FloatArray) -> FloatArray:
        """The service level the weights ask for: underage cost over underage plus overage cost, per item."""
        under = (self.margin + self.shortage) * np.maximum(unit_margin, 0.0)
        over = self.holding * np.maximum(unit_holding, 0.0)
        total = under + over
        return np.divide(under, total, out=np.full_like(total, 0.5), where=total > 0)


def newsvendor_quantity(mean: FloatArray, sigma: FloatArray, critical_ratio: FloatArray) -> FloatArray:
    """The order-up-to level at the critical ratio of a normal forecast (never below zero)."""
    from scipy.stats import norm  # scipy.stats costs about a second at import: loaded on first use

    ratio = np.clip(critical_ratio, 1e-4, 1.0 - 1e-4)
    return np.asarray(np.maximum(mean + norm.ppf(ratio) * sigma, 0.0), dtype=np.float64)
