"""Which statsforecast models compete for a series, by demand pattern and whether a season can be estimated."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from statsforecast.models import (
    ADIDA,
    IMAPA,
    MSTL,
    TSB,
    AutoARIMA,
    AutoCES,
    AutoETS,
    AutoTheta,
    CrostonOptimized,
    Naive,
    SeasonalNaive,
)

SEASON_LENGTHS = {"W": 52, "MS": 12, "M": 12, "ME": 12, "QS": 4, "Q": 4, "D": 7, "h": 24, "H": 24}

CONTINUOUS = ("AutoARIMA", "AutoETS", "AutoTheta", "AutoCES", "SeasonalNaive")
# Long seasons (24 hourly, 52 weekly): seasonal ARIMA and ETS cost seconds per series (and statsforecast's ETS
# ignores seasons > 24), so they run non-seasonal there; Theta's decomposition, CES, MSTL and the seasonal naive
# carry the season. Hourly ETS was slow and poor on the M4 train split, so MSTL (daily + weekly) replaces it.
LONG_SEASON = 24
SPORADIC = ("CrostonOptimized", "TSB", "ADIDA", "IMAPA")


def season_length_for(freq: str) -> int:
    """Season length of a pandas frequency ("W-MON" counts as "W"); 1 when it has none we know."""
    return SEASON_LENGTHS.get(freq.split("-")[0], 1)


def default_continuous(season_length: int) -> tuple[str, ...]:
    """The candidate set for a season length (hourly swaps ETS for MSTL)."""
    if season_length == LONG_SEASON:
        return ("AutoARIMA", "MSTL", "AutoTheta", "AutoCES", "SeasonalNaive")
    return CONTINUOUS


def continuous_models(season_length: int, names: tuple[str, ...] = CONTINUOUS) -> list[Any]:
    """Smooth and erratic demand: the automatic state-space, ARIMA, theta and CES models and a seasonal naive."""
    m = max(1, season_length)
    short_m = m if m < LONG_SEASON else 1
    build: dict[str, Callable[[], Any]] = {
        "AutoARIMA": lambda: AutoARIMA(season_length=short_m),
        "AutoETS": lambda: AutoETS(season_length=short_m),
        "AutoTheta": lambda: AutoTheta(season_length=m),
        "AutoCES": lambda: AutoCES(season_length=m if m <= LONG_SEASON else 1),
        "MSTL": lambda: MSTL(season_length=[m, 7 * m] if m == LONG_SEASON else m, alias="MSTL"),
        "SeasonalNaive": lambda: SeasonalNaive(season_length=m, alias="SeasonalNaive") if m > 1 else _naive(),
    }
    return [build[name]() for name in names]


def sporadic_models(names: tuple[str, ...] = SPORADIC) -> list[Any]:
    """Intermittent and lumpy demand: Croston's family, which forecasts a rate rather than a level."""
    build: dict[str, Callable[[], Any]] = {
        "CrostonOptimized": lambda: CrostonOptimized(),
        "TSB": lambda: TSB(alpha_d=0.2, alpha_p=0.2),
        "ADIDA": lambda: ADIDA(),
        "IMAPA": lambda: IMAPA(),
    }
    return [build[name]() for name in names]


def fallback_model() -> Any:
    """Used by statsforecast when a candidate fails to fit one series."""
    return Naive()


def _naive() -> Any:
    return Naive(alias="SeasonalNaive")
