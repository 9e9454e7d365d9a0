"""Demand patterns by ADI / CV² (Syntetos-Boylan) decide which model family a series gets."""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# Syntetos, Boylan & Croston (2005) cut-offs: ADI 1.32 separates regular from intermittent demand, CV² 0.49 the
# size variability of the non-zero demands.
ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49
MIN_POINTS = 10


class Pattern(StrEnum):
    """How a series' demand behaves, or that it is too short to tell."""

    SMOOTH = "smooth"
    INTERMITTENT = "intermittent"
    ERRATIC = "erratic"
    LUMPY = "lumpy"
    SHORT = "short"


def adi_cv2(y: FloatArray) -> tuple[float, float]:
    """Average demand interval and squared coefficient of variation of the non-zero demands."""
    nonzero = y[y > 0]
    if nonzero.size == 0:
        return float("inf"), 0.0
    adi = float(y.size / nonzero.size)
    mean = float(nonzero.mean())
    cv2 = float((nonzero.std() / mean) ** 2) if nonzero.size > 1 else 0.0
    return adi, cv2


def classify(y: FloatArray, *, min_points: int = MIN_POINTS) -> Pattern:
    """Pattern of one history; fewer than `min_points` observations (or no demand at all) is too short to model."""
    if y.size < min_points or not np.any(y > 0):
        return Pattern.SHORT
    adi, cv2 = adi_cv2(y)
    if adi < ADI_CUTOFF:
        return Pattern.SMOOTH if cv2 < CV2_CUTOFF else Pattern.ERRATIC
    return Pattern.INTERMITTENT if cv2 < CV2_CUTOFF else Pattern.LUMPY


def is_sporadic(pattern: Pattern) -> bool:
    """Intermittent and lumpy demand get the Croston family instead of the continuous models."""
    return pattern in (Pattern.INTERMITTENT, Pattern.LUMPY)
