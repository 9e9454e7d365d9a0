"""Which statsforecast models compete for a series, by demand pattern and whether a season can be estimated."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# The model classes are imported where the models are built: statsforecast pulls dask and statsmodels (seconds at
# import), and the names and defaults here are read by every process that imports the planner's routes.

SEASON_LENGTHS = {"W": 52, "MS": 12, "M": 12, "ME": 12, "QS": 4, "Q": 4, "D": 7, "h": 24, "H": 24}

CONTINUOUS = ("AutoARIMA", "AutoETS", "AutoTheta", "AutoCES", "SeasonalNaive")
# Long seasons (24 hourly, 52 weekly): seasonal ARIMA and ETS cost seconds per series (and statsforecast's ETS
# ignores seasons > 24), so they run non-seasonal there; Theta's decomposition, CES, MSTL and the seasonal naive
# carry the season.
LONG_SEASON = 24
# Hourly: two MSTL decompositions (daily + weekly, and daily alone; AutoETS on the trend), AutoCES with the daily
# season and the naives of the same hour yesterday and last week. Chosen on the M4 Hourly *train* split (last 48
# hours held out, `bench/forecast.py --validate`, docs/benchmarks.md): non-seasonal AutoARIMA cost about 1.2 s per
# fit of 700-960 hours and was the worst candidate; AutoTheta and the dynamic optimised theta were poor on several
# series; AutoCES doubles the time (its intervals are simulated) for MASE 0.890 against 0.922 on every third series.
HOURLY = ("MSTL", "MSTLDaily", "AutoCES", "SeasonalNaive", "WeeklyNaive")
# Weekly: AutoARIMA took most of the time (about 0.6 s per fit of a long M4 series, three fits each) and is left out;
# the seasonal level naive carries last year's shape at the current level. Chosen on the M4 Weekly *train* split
# (last 13 weeks held out, `bench/forecast.py --validate`): OWA 0.788 with this set on the last 156 weeks; on 260
# weeks without AutoCES 0.827 (3.5x faster), and without the level naive too 0.854 (docs/benchmarks.md).
WEEKLY = ("AutoETS", "AutoTheta", "AutoCES", "SeasonalNaive", "SeasonalLevelNaive")
WEEKLY_SEASON = 52
WEEKLY_HISTORY = 156  # three years: older weeks cost fitting time and rarely help the next quarter
# statsmodels STL "jumps": the seasonal, trend and low-pass smoothers are fitted every 2nd, 10th and 3rd point and
# linearly interpolated between. On the M4 Hourly train split MSTL (24, 168) kept its accuracy and took a third of
# the time (the decomposition, not the trend model, is most of MSTL's cost on 700-960 hours).
FAST_STL = {"seasonal_jump": 2, "trend_jump": 10, "low_pass_jump": 3}
SPORADIC = ("CrostonOptimized", "TSB", "ADIDA", "IMAPA")
# MSTL has no non-seasonal form; the seasonal naives need one season of history, not two.
NEEDS_TWO_SEASONS = ("MSTL", "MSTLDaily")
ONE_SEASON = ("SeasonalNaive", "SeasonalLevelNaive")


def season_length_for(freq: str) -> int:
    """Season length of a pandas frequency ("W-MON" counts as "W"); 1 when it has none we know."""
    return SEASON_LENGTHS.get(freq.split("-")[0], 1)


def default_continuous(season_length: int) -> tuple[str, ...]:
    """The candidate set for a season length (hourly: MSTL and naives, weekly: no AutoARIMA)."""
    if season_length == LONG_SEASON:
        return HOURLY
    if season_length == WEEKLY_SEASON:
        return WEEKLY
    return CONTINUOUS


def default_history(season_length: int) -> int | None:
    """How many of the latest periods are modelled by default (None: all of them)."""
    return WEEKLY_HISTORY if season_length == WEEKLY_SEASON else None


def one_season_continuous(names: tuple[str, ...]) -> tuple[str, ...]:
    """The candidates for a history with one season but not two: the season from last year's values only."""
    kept = tuple(n for n in names if n not in NEEDS_TWO_SEASONS)
    extra = tuple(n for n in ONE_SEASON if n not in kept)
    return kept + extra


def continuous_models(
    season_length: int, names: tuple[str, ...] = CONTINUOUS, *, full_seasons: bool = True
) -> list[Any]:
    """Smooth and erratic demand: the automatic state-space, ARIMA, theta and CES models and seasonal naives.

    `full_seasons` False: the history holds one season but not two, so the estimated models run non-seasonal and the
    season comes from last season's values (seasonal naive, seasonal level naive).
    """
    from statsforecast.models import AutoARIMA, AutoCES, AutoETS, AutoTheta, DynamicOptimizedTheta

    from opsdesk.planner.forecasting.seasonal import SeasonalLevelNaive

    m = max(1, season_length)
    estimated_m = m if full_seasons else 1
    short_m = estimated_m if estimated_m < LONG_SEASON else 1
    build: dict[str, Callable[[], Any]] = {
        "AutoARIMA": lambda: AutoARIMA(season_length=short_m),
        "AutoETS": lambda: AutoETS(season_length=short_m),
        "AutoTheta": lambda: AutoTheta(season_length=estimated_m),
        "AutoCES": lambda: AutoCES(season_length=estimated_m if estimated_m <= LONG_SEASON else 1),
        "MSTL": lambda: _mstl([m, 7 * m] if m == LONG_SEASON else [m], "MSTL"),
        "MSTLDaily": lambda: _mstl([m], "MSTLDaily"),
        "WeeklyNaive": lambda: _weekly_naive(m),
        "DynamicOptimizedTheta": lambda: DynamicOptimizedTheta(season_length=estimated_m),
        "SeasonalNaive": lambda: _seasonal_naive(m, full_seasons),
        "SeasonalLevelNaive": lambda: SeasonalLevelNaive(season_length=m) if m > 1 else _naive("SeasonalLevelNaive"),
    }
    return [build[name]() for name in names]


def sporadic_models(names: tuple[str, ...] = SPORADIC) -> list[Any]:
    """Intermittent and lumpy demand: Croston's family, which forecasts a rate rather than a level."""
    from statsforecast.models import ADIDA, IMAPA, TSB, CrostonOptimized

    build: dict[str, Callable[[], Any]] = {
        "CrostonOptimized": lambda: CrostonOptimized(),
        "TSB": lambda: TSB(alpha_d=0.2, alpha_p=0.2),
        "ADIDA": lambda: ADIDA(),
        "IMAPA": lambda: IMAPA(),
    }
    return [build[name]() for name in names]


def fallback_model() -> Any:
    """Used by statsforecast when a candidate fails to fit one series."""
    from statsforecast.models import Naive

    return Naive()


def _seasonal_naive(m: int, full_seasons: bool) -> Any:
    """statsforecast's seasonal naive; with one season of history the rule that turns naive on a shorter window."""
    from statsforecast.models import SeasonalNaive

    from opsdesk.planner.forecasting.seasonal import SeasonalLevelNaive

    if m == 1:
        return _naive()
    if full_seasons:
        return SeasonalNaive(season_length=m, alias="SeasonalNaive")
    return SeasonalLevelNaive(season_length=m, window=0, alias="SeasonalNaive")


def _mstl(seasons: list[int], alias: str) -> Any:
    """MSTL; on long seasons the STL smoothers are evaluated every few points and interpolated (about 3x faster)."""
    from statsforecast.models import MSTL

    fast = seasons[0] >= LONG_SEASON
    return MSTL(
        season_length=seasons if len(seasons) > 1 else seasons[0],
        stl_kwargs=FAST_STL if fast else None,
        alias=alias,
    )


def _weekly_naive(m: int) -> Any:
    """Hourly data: the same hour of last week (the plain naive while the history is shorter than a week)."""
    from opsdesk.planner.forecasting.seasonal import SeasonalLevelNaive

    if m != LONG_SEASON:
        return _naive("WeeklyNaive")
    return SeasonalLevelNaive(season_length=7 * m, window=0, alias="WeeklyNaive")


def _naive(alias: str = "SeasonalNaive") -> Any:
    from statsforecast.models import Naive

    return Naive(alias=alias)
