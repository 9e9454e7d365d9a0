"""The planner's own forecasts of past weeks, made honestly: rolling-origin backtests with its candidate models.

For each target week t of a weekly series the forecast is the h-step-ahead forecast from the origin t - h (h is the
item's lead time: the forecast an order for that week was placed on), made only from the weeks up to that origin.
statsforecast's ``cross_validation`` (step 1) produces one window per origin. The models are the planner's family
for the series' pattern (``candidates``: continuous or Croston, seasonal once two seasons of history exist), chosen
from the history at the run's first origin. Continuous models are fitted there once (``refit=False``: later windows
update the fitted models' state with the new weeks, never their parameters with later data; refitting every week
cost seconds per item); Croston's family has no such update and is refitted at every origin (it is cheap).

Combining, as the planner's engine does (``ensemble``): at each origin the members are scored by their mean absolute
error over the ``score_windows`` latest windows that had been fully observed by then (a window ends h weeks after its
own origin), and the three best are weighted by inverse error. The 80 % interval is conformal, as the engine's for
sporadic series: the ensemble's absolute errors on those same windows (pooled over windows and steps), their 80 %
quantile either side of the point forecast, cut at zero. Members' own quantiles are not used: statsforecast's CES
intervals cost about a tenth of a second per window, which a year of weekly origins cannot afford.

A target whose first fitting origin has fewer than ``patterns.MIN_POINTS`` weeks (or no sales yet) gets no forecast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from opsdesk.planner.forecasting import candidates
from opsdesk.planner.forecasting.ensemble import Combiner, choose_weights, combine
from opsdesk.planner.forecasting.patterns import MIN_POINTS, Pattern, classify, is_sporadic

if TYPE_CHECKING:  # pandas is imported where frames are built (a third of a second at import)
    import pandas as pd

FloatArray = npt.NDArray[np.float64]

SCORE_WINDOWS = 8
SEASON_LENGTH = 52  # weekly
COMBINER = Combiner.INVERSE_TOP_K
TOP_K = 3
INTERVAL_QUANTILE = 0.8
_EPOCH = "2000-01-03"  # a Monday: week indices become dates only for statsforecast's frame


@dataclass(frozen=True)
class WeeklySeries:
    """One item's weekly demand (week 0 = its first week of sales) and the weeks to forecast, h weeks ahead."""

    key: str
    y: FloatArray  # zero-filled weekly quantities through the last target week
    targets: tuple[int, ...]  # week indices into y
    horizon: int


@dataclass(frozen=True)
class WeekForecast:
    """One week's backtest forecast with its central 80 % interval and the members that made it."""

    mean: float
    low: float
    high: float
    weights: Mapping[str, float]


@dataclass(frozen=True)
class _Run:
    """Consecutive targets of one series forecast by one model family fitted at one origin."""

    key: str
    sporadic: bool
    season_length: int
    horizon: int
    targets: tuple[int, ...]
    n_windows: int
    end: int  # y[:end] goes to statsforecast; the last window ends at end - 1


def backtest(
    series: Sequence[WeeklySeries], *, score_windows: int = SCORE_WINDOWS, n_jobs: int = 1
) -> dict[str, dict[int, WeekForecast]]:
    """Each series' target weeks forecast from their origins; a target that cannot be forecast is left out."""
    import pandas as pd
    from statsforecast import StatsForecast  # loaded on first use: it pulls dask and statsmodels (seconds)

    by_key = {s.key: s for s in series}
    batches: dict[tuple[bool, int, int, int], list[tuple[str, _Run]]] = {}
    for s in series:
        for n, run in enumerate(_runs(s, score_windows)):
            batch = (run.sporadic, run.season_length, run.horizon, run.n_windows)
            batches.setdefault(batch, []).append((f"{s.key}\x1f{n}", run))
    result: dict[str, dict[int, WeekForecast]] = {s.key: {} for s in series}
    for (sporadic, m, h, n_windows), runs in sorted(batches.items()):
        frame = pd.concat([_frame(uid, by_key[run.key].y[: run.end]) for uid, run in runs], ignore_index=True)
        models = candidates.sporadic_models() if sporadic else candidates.continuous_models(m)
        names = [str(getattr(model, "alias", repr(model))) for model in models]
        sf = StatsForecast(models=models, freq="W-MON", n_jobs=n_jobs, fallback_model=candidates.fallback_model())
        cv = sf.cross_validation(h=h, df=frame, n_windows=n_windows, step_size=1, refit=sporadic)
        cv = pd.DataFrame(cv).reset_index(drop="unique_id" in cv.columns).sort_values(["unique_id", "cutoff", "ds"])
        run_of = dict(runs)
        for uid, rows in cv.groupby("unique_id", sort=False):
            run = run_of[str(uid)]
            actual = rows["y"].to_numpy(np.float64).reshape(n_windows, h)
            members = np.stack([rows[n].to_numpy(np.float64).reshape(n_windows, h) for n in names])
            result[run.key].update(_combined(run, names, members, actual, score_windows))
    return result


def _runs(s: WeeklySeries, score_windows: int) -> list[_Run]:
    """The series' targets split where the family the planner would fit at the first origin changes."""
    h = max(1, s.horizon)
    warm_up = h + score_windows - 1  # windows before a target's own so that score_windows of them are complete
    keyed: list[tuple[tuple[bool, int], int]] = []
    for t in sorted(set(s.targets)):
        if t < 0 or t >= s.y.size:
            continue
        fit = t - h + 1 - warm_up  # weeks of history at the first origin of a run that starts with t
        if fit < MIN_POINTS:
            continue
        pattern = classify(s.y[:fit], min_points=MIN_POINTS)
        if pattern is Pattern.SHORT:
            continue
        sporadic = is_sporadic(pattern)
        m = SEASON_LENGTH if not sporadic and fit >= 2 * SEASON_LENGTH else 1
        keyed.append(((sporadic, m), t))
    runs: list[_Run] = []
    start = 0
    for i in range(1, len(keyed) + 1):
        if i == len(keyed) or keyed[i][0] != keyed[start][0]:
            (sporadic, m), first = keyed[start]
            last = keyed[i - 1][1]
            targets = tuple(t for _, t in keyed[start:i])
            runs.append(_Run(s.key, sporadic, m, h, targets, last - first + 1 + warm_up, last + 1))
            start = i
    return runs


def _frame(uid: str, y: FloatArray) -> pd.DataFrame:
    import pandas as pd

    ds = pd.date_range(pd.Timestamp(_EPOCH), periods=y.size, freq="W-MON")
    return pd.DataFrame({"unique_id": uid, "ds": ds, "y": y})


def _combined(
    run: _Run, names: Sequence[str], members: FloatArray, actual: FloatArray, score_windows: int
) -> dict[int, WeekForecast]:
    """Targets' forecasts from the windows (members x windows x steps); window w is complete by window v's origin
    when w <= v - h."""
    n_windows, h = actual.shape
    out: dict[int, WeekForecast] = {}
    for t in run.targets:
        w = t - (run.end - n_windows)  # the window whose h-th step is week t (the last window ends at end - 1)
        scored = np.arange(max(0, w - h - score_windows + 1), w - h + 1)
        if scored.size == 0:
            continue
        errors = np.abs(members[:, scored, :] - actual[np.newaxis, scored, :]).mean(axis=(1, 2))
        weights = choose_weights(np.where(np.isfinite(errors), errors, np.inf), COMBINER, TOP_K)
        point = float(combine(members[:, w, h - 1].reshape(-1, 1, 1), weights, COMBINER)[0, 0])
        if not np.isfinite(point):
            continue
        past = combine(members[:, scored, :], weights, COMBINER)
        half = float(np.quantile(np.abs(actual[scored] - past), INTERVAL_QUANTILE))
        mean = max(point, 0.0)
        chosen = {names[int(i)]: float(weights[i]) for i in np.flatnonzero(weights > 0)}
        out[t] = WeekForecast(mean, max(point - half, 0.0), max(point + half, 0.0), chosen)
    return out


def describe(score_windows: int = SCORE_WINDOWS) -> str:
    """The method in one sentence, for the record of whatever used these forecasts."""
    return (
        "statsforecast rolling-origin backtest (step 1 week, h = the item's lead time, from earlier sales only; "
        "continuous models fitted once at the first origin, Croston's at each), the planner's candidates for the "
        f"item's pattern combined {COMBINER.value} (k={TOP_K}) on the {score_windows} latest completed windows before "
        "each origin, 80 % conformal interval from those windows' errors"
    )
