"""Demand forecasts per series: pattern, candidates, rolling-origin backtest, validated ensemble, 80/95 % bands.

The long data frame (`unique_id`, `ds`, `y`) is handled here, at the edge; the choices are pure functions over
arrays (`ensemble`, `patterns`, `metrics`). Series are grouped by model family (continuous or Croston, seasonal or
not) and every group runs through statsforecast twice: `cross_validation` (n_windows x horizon, step = horizon) to
score the candidates, then `forecast` to fit them on all the history. With `engine="dask"` both calls get a dask
DataFrame and statsforecast runs them on its own fugue/dask backend, optionally on the cluster at `dask_address`.

Intervals: continuous models bring their own 80/95 % quantiles, combined with the ensemble weights. The Croston
family has no native intervals, so sporadic series get conformal bands: the empirical 80/95 % quantiles of the
ensemble's absolute backtest errors (pooled over the windows and steps), around the point forecast, cut at zero.
Series too short to be both fitted and validated fall back to the historic mean with the history's empirical
quantiles as bands (`fallback="historic_mean"`).

Seasons: a series with two seasons of history gets every candidate with the season; one with a season and a
horizon (60 weeks of weekly data with the default horizon) gets the seasonal naives with the season and the rest
non-seasonal; shorter ones none. Each forecast carries its backtest errors (`residuals`, the ensemble's actual minus
forecast in the cross-validation windows), from which the order-up-to levels are drawn, and intermittent series (and
whole-unit series whose own recent rate beat the ensemble in those windows) also their latest `OWN_DEMAND_WEEKS`
weeks (`recent_demand`), from which their lead-time demand is drawn instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from opsdesk.planner.forecasting import candidates
from opsdesk.planner.forecasting.ensemble import Combiner, choose_weights, combine, ensemble_name
from opsdesk.planner.forecasting.metrics import FloatArray, mase, smape
from opsdesk.planner.forecasting.patterns import MIN_POINTS, Pattern, classify, is_sporadic
from opsdesk.planner.forecasting.results import SeriesForecast

if TYPE_CHECKING:  # pandas is imported where frames are built (a third of a second at import)
    import pandas as pd

Progress = Callable[[int, int], None]
FALLBACK = "historic_mean"
# Intermittent items keep their own latest weeks: their lead-time demand is drawn from them downstream (a count
# model or Willemain's bootstrap), since a dozen backtest errors of a Croston rate say little about a 6-11-week sum.
# Other series of whole units keep them too when the weeks' own rate beat the ensemble in the backtest windows (a
# slow count item: two vehicles a week move more by chance than by season or trend).
OWN_DEMAND_WEEKS = 78


class ForecastInputError(ValueError):
    """The demand frame cannot be forecast as given (missing columns, negative or non-numeric demand)."""


@dataclass(frozen=True)
class ForecastOptions:
    """Knobs of one forecast run; the defaults are the shipped, validated choice."""

    horizon: int = 8
    freq: str = "W"
    levels: tuple[int, int] = (80, 95)
    season_length: int | None = None
    n_windows: int = 2
    combiner: Combiner = Combiner.INVERSE_TOP_K
    top_k: int = 3
    n_jobs: int = 1
    engine: str | None = None
    dask_address: str | None = None
    nonnegative: bool = True
    min_points: int = MIN_POINTS
    continuous: tuple[str, ...] | None = None  # None: `candidates.default_continuous(season length)`
    sporadic: tuple[str, ...] = candidates.SPORADIC
    chunk_size: int = 2000
    # Model only the last N periods (old regimes mislead; long fits are slow); None: `candidates.default_history`
    # (156 weeks for weekly data, all otherwise); 0: all.
    max_history: int | None = None


@dataclass(frozen=True)
class _Group:
    sporadic: bool
    season_length: int
    ids: list[str]
    full_seasons: bool = True  # False: one season of history, so only last season's values carry the season


def forecast_demand(
    df: pd.DataFrame,
    *,
    horizon: int = 8,
    freq: str = "W",
    levels: tuple[int, int] = (80, 95),
    n_jobs: int = 1,
    progress: Progress | None = None,
    engine: str | None = None,
    dask_address: str | None = None,
    **overrides: Any,
) -> list[SeriesForecast]:
    """Forecast every series of a long frame (`unique_id`, `ds`, `y`); see `ForecastOptions` for the rest."""
    options = ForecastOptions(
        horizon=horizon,
        freq=freq,
        levels=levels,
        n_jobs=n_jobs,
        engine=engine,
        dask_address=dask_address,
        **overrides,
    )
    return run(df, options, progress)


def run(df: pd.DataFrame, options: ForecastOptions, progress: Progress | None = None) -> list[SeriesForecast]:
    """Forecast every series with explicit options."""
    import pandas as pd

    if options.horizon < 1:
        raise ForecastInputError("horizon must be at least 1")
    if options.engine not in (None, "dask"):
        raise ForecastInputError(f"unknown forecast engine {options.engine!r}; use None or 'dask'")
    data, freq = prepare(df, options.freq)
    season = options.season_length or candidates.season_length_for(freq)
    max_history = candidates.default_history(season) if options.max_history is None else options.max_history
    if max_history:
        data = data.groupby("unique_id", sort=False).tail(max_history).reset_index(drop=True)
    histories = {str(uid): g["y"].to_numpy(np.float64) for uid, g in data.groupby("unique_id", sort=True)}
    last_ds = {str(uid): pd.Timestamp(g["ds"].iloc[-1]) for uid, g in data.groupby("unique_id", sort=True)}
    min_points = options.n_windows * options.horizon + options.min_points
    patterns = {uid: classify(y, min_points=min_points) for uid, y in histories.items()}
    groups = _groups(histories, patterns, season, options.horizon)
    chunks = [(g, g.ids[i : i + options.chunk_size]) for g in groups for i in range(0, len(g.ids), options.chunk_size)]
    total = 2 * len(chunks) + 1
    done = 0
    results: dict[str, SeriesForecast] = {}
    with _dask_client(options):
        for group, ids in chunks:
            part = data[data["unique_id"].isin(ids)]
            cv = _call(options, group, part, freq, cross_validation=True)
            done += 1
            _report(progress, done, total)
            fc = _call(options, group, part, freq, cross_validation=False)
            done += 1
            _report(progress, done, total)
            cv_by = {str(u): g for u, g in cv.groupby("unique_id", sort=False)}
            fc_by = {str(u): g for u, g in fc.groupby("unique_id", sort=False)}
            for uid in ids:
                results[uid] = _assemble(uid, histories[uid], patterns[uid], group, cv_by[uid], fc_by[uid], options)
    for uid, pattern in patterns.items():
        if pattern is Pattern.SHORT:
            results[uid] = historic_mean(uid, histories[uid], _future(last_ds[uid], freq, options.horizon), options)
    _report(progress, total, total)
    return [results[uid] for uid in sorted(results)]


def prepare(df: pd.DataFrame, freq: str) -> tuple[pd.DataFrame, str]:
    """Checked, sorted frame with interior gaps zero-filled, and the anchored frequency ("W" → "W-MON")."""
    import pandas as pd

    missing = {"unique_id", "ds", "y"} - set(df.columns)
    if missing:
        raise ForecastInputError(f"demand frame lacks columns: {', '.join(sorted(missing))}")
    data = df[["unique_id", "ds", "y"]].copy()
    data["unique_id"] = data["unique_id"].astype(str)
    data["ds"] = pd.to_datetime(data["ds"])
    y = pd.to_numeric(data["y"], errors="coerce")
    if y.isna().any():
        raise ForecastInputError("demand must be numeric")
    if (y < 0).any():
        raise ForecastInputError("demand must not be negative")
    data["y"] = y.astype(np.float64)
    if data.duplicated(["unique_id", "ds"]).any():
        raise ForecastInputError("a series has the same date twice")
    freq = _anchored(freq, data["ds"])
    full = []
    for uid, g in data.sort_values(["unique_id", "ds"]).groupby("unique_id", sort=True):
        index = pd.date_range(g["ds"].iloc[0], g["ds"].iloc[-1], freq=freq)
        y_full = g.set_index("ds")["y"].reindex(index, fill_value=0.0)
        if len(y_full) < len(g):
            raise ForecastInputError(f"series {uid!r} has dates off the {freq} grid")
        full.append(pd.DataFrame({"unique_id": uid, "ds": index, "y": y_full.to_numpy(np.float64)}))
    if not full:
        raise ForecastInputError("demand frame is empty")
    return pd.concat(full, ignore_index=True), freq


def historic_mean(uid: str, y: FloatArray, ds: list[date], options: ForecastOptions) -> SeriesForecast:
    """The stated fallback for short series: the mean, with the history's own quantiles as the bands."""
    h = len(ds)
    lo80, hi80, lo95, hi95 = (float(q) for q in np.quantile(y, [0.1, 0.9, 0.025, 0.975]))
    mean = float(y.mean())

    def full(value: float) -> FloatArray:
        return np.full(h, value, dtype=np.float64)

    return SeriesForecast(
        unique_id=uid,
        model=FALLBACK,
        pattern=Pattern.SHORT.value,
        ds=ds,
        mean=full(mean),
        lo80=full(min(lo80, mean)),
        hi80=full(max(hi80, mean)),
        lo95=full(min(lo95, lo80, mean)),
        hi95=full(max(hi95, hi80, mean)),
        fallback=f"{FALLBACK}: {y.size} points are too few to fit and validate a model",
    )


def _anchored(freq: str, ds: pd.Series) -> str:
    if freq != "W" or ds.empty:
        return freq
    weekdays = ds.dt.dayofweek.unique()
    if len(weekdays) != 1:
        raise ForecastInputError("weekly dates fall on different weekdays")
    return "W-" + ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")[int(weekdays[0])]


def _groups(histories: dict[str, FloatArray], patterns: dict[str, Pattern], season: int, horizon: int) -> list[_Group]:
    """Series grouped by model family and by how much season their history holds.

    Two seasons of history: every candidate estimates the season. One season (the last cross-validation window's
    training part holds a full season, so the seasonal candidates are scored at least there): the seasonal naives
    carry last season and the rest run non-seasonal. Less: no season.
    """
    keyed: dict[tuple[bool, int, bool], list[str]] = {}
    for uid, pattern in patterns.items():
        if pattern is Pattern.SHORT:
            continue
        sporadic = is_sporadic(pattern)
        n = histories[uid].size
        full = n >= 2 * season
        one = n - horizon >= season
        m = season if not sporadic and season > 1 and (full or one) else 1
        keyed.setdefault((sporadic, m, full or m == 1), []).append(uid)
    return [_Group(sporadic, m, ids, full) for (sporadic, m, full), ids in sorted(keyed.items())]


def _models(group: _Group, options: ForecastOptions) -> list[Any]:
    if group.sporadic:
        return candidates.sporadic_models(options.sporadic)
    names = tuple(options.continuous or candidates.default_continuous(group.season_length))
    if not group.full_seasons:
        names = candidates.one_season_continuous(names)
    return candidates.continuous_models(group.season_length, names, full_seasons=group.full_seasons)


def _call(
    options: ForecastOptions, group: _Group, part: pd.DataFrame, freq: str, *, cross_validation: bool
) -> pd.DataFrame:
    import pandas as pd
    from statsforecast import StatsForecast  # loaded on first use: it pulls dask and statsmodels (seconds)

    sf = StatsForecast(
        models=_models(group, options),
        freq=freq,
        n_jobs=options.n_jobs,
        fallback_model=candidates.fallback_model(),
    )
    frame: Any = part
    if options.engine == "dask":
        import dask.dataframe as dd

        from_pandas: Callable[..., Any] = dd.from_pandas
        frame = from_pandas(part, npartitions=max(1, options.n_jobs))
    if cross_validation:
        out = sf.cross_validation(
            h=options.horizon, df=frame, n_windows=options.n_windows, step_size=options.horizon, refit=True
        )
    else:
        level = None if group.sporadic else list(options.levels)
        out = sf.forecast(h=options.horizon, df=frame, level=level)
    if options.engine == "dask" and not isinstance(out, pd.DataFrame):
        out = out.compute() if hasattr(out, "compute") else out.as_pandas()
    result = pd.DataFrame(out).reset_index(drop="unique_id" in out.columns)
    result["unique_id"] = result["unique_id"].astype(str)
    keys = ["unique_id", "cutoff", "ds"] if cross_validation else ["unique_id", "ds"]
    return result.sort_values(keys).reset_index(drop=True)


def _assemble(
    uid: str,
    y: FloatArray,
    pattern: Pattern,
    group: _Group,
    cv: pd.DataFrame,
    fc: pd.DataFrame,
    options: ForecastOptions,
) -> SeriesForecast:
    import pandas as pd

    names = [m.alias if hasattr(m, "alias") else repr(m) for m in _models(group, options)]
    rows = cv
    errors, smapes = _backtest(rows, names, y, group.season_length)
    weights = choose_weights(errors, options.combiner, options.top_k)
    future = fc
    h = options.horizon
    actual = rows["y"].to_numpy(np.float64)
    cv_points = np.nan_to_num(np.stack([rows[n].to_numpy(np.float64) for n in names]), nan=0.0)
    cv_mean = combine(cv_points[:, None, :], weights, options.combiner)[0]
    if options.nonnegative:
        cv_mean = np.maximum(cv_mean, 0.0)
    residuals = actual - cv_mean  # the ensemble's out-of-sample errors, window by window, step by step
    if group.sporadic:
        points = np.stack([future[n].to_numpy(np.float64) for n in names])
        mean = combine(points[:, None, :], weights, options.combiner)[0]
        q80, q95 = (float(q) for q in np.quantile(np.abs(residuals), [0.8, 0.95]))
        bands = np.stack([mean - q95, mean - q80, mean, mean + q80, mean + q95])
    else:
        lo, hi = options.levels
        members = np.stack(
            [
                np.stack(
                    [
                        future[f"{n}-lo-{hi}"].to_numpy(np.float64),
                        future[f"{n}-lo-{lo}"].to_numpy(np.float64),
                        future[n].to_numpy(np.float64),
                        future[f"{n}-hi-{lo}"].to_numpy(np.float64),
                        future[f"{n}-hi-{hi}"].to_numpy(np.float64),
                    ]
                )
                for n in names
            ]
        )
        bands = combine(np.nan_to_num(members, nan=0.0), weights, options.combiner)
    if options.nonnegative:
        bands = np.maximum(bands, 0.0)
    chosen = weights > 0
    return SeriesForecast(
        unique_id=uid,
        model=ensemble_name(names, weights, options.combiner),
        pattern=pattern.value,
        ds=[pd.Timestamp(d).date() for d in future["ds"].iloc[:h]],
        mean=bands[2],
        lo80=bands[1],
        hi80=bands[3],
        lo95=bands[0],
        hi95=bands[4],
        backtest_mase=float(np.dot(weights[chosen], errors[chosen])) if np.isfinite(errors[chosen]).all() else None,
        backtest_smape=float(np.dot(weights[chosen], smapes[chosen])) if np.isfinite(smapes[chosen]).all() else None,
        weights={names[i]: float(weights[i]) for i in np.flatnonzero(chosen)},
        residuals=residuals,
        recent_demand=y[-OWN_DEMAND_WEEKS:].copy() if group.sporadic or _own_rate_wins(y, rows, residuals) else None,
        whole_units=_whole(y),
    )


def _own_rate_wins(y: FloatArray, rows: pd.DataFrame, residuals: FloatArray) -> bool:
    """Whole units whose own latest-weeks rate erred less than the ensemble in the backtest windows (squared error).

    Each window is judged by the rate of the `OWN_DEMAND_WEEKS` weeks before its cutoff, as the ensemble was.
    """
    if not _whole(y) or residuals.size == 0:
        return False
    cutoffs = sorted(rows["cutoff"].unique())
    errors: list[FloatArray] = []
    for k, cutoff in enumerate(cutoffs):
        actual = rows.loc[rows["cutoff"] == cutoff, "y"].to_numpy(np.float64)
        train = y[: y.size - (len(cutoffs) - k) * actual.size]
        if train.size == 0:
            return False
        errors.append(actual - float(train[-OWN_DEMAND_WEEKS:].mean()))
    own = np.concatenate(errors)
    return bool(np.mean(own**2) <= np.mean(residuals**2))


def _whole(y: FloatArray) -> bool:
    return bool(np.array_equal(y, np.round(y)))


def _backtest(rows: pd.DataFrame, names: Sequence[str], y: FloatArray, m: int) -> tuple[FloatArray, FloatArray]:
    """Mean MASE and sMAPE per candidate over the CV windows; each window scaled by its own training history."""
    mases: list[list[float]] = [[] for _ in names]
    smapes: list[list[float]] = [[] for _ in names]
    n = y.size
    cutoffs = sorted(rows["cutoff"].unique())
    for k, cutoff in enumerate(cutoffs):
        window = rows[rows["cutoff"] == cutoff]
        actual = window["y"].to_numpy(np.float64)
        train = y[: n - (len(cutoffs) - k) * len(window)]
        for i, name in enumerate(names):
            pred = window[name].to_numpy(np.float64)
            ok = np.isfinite(pred).all()
            mases[i].append(mase(actual, pred, train, m) if ok else np.inf)
            smapes[i].append(smape(actual, pred) if ok else np.inf)
    return np.asarray([np.mean(e) for e in mases]), np.asarray([np.mean(e) for e in smapes])


def _future(last: pd.Timestamp, freq: str, h: int) -> list[date]:
    import pandas as pd

    return [d.date() for d in pd.date_range(last, periods=h + 1, freq=freq)[1:]]


def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


@contextmanager
def _dask_client(options: ForecastOptions) -> Iterator[None]:
    """Points dask at the caller's cluster for the run; in process (or the default scheduler) otherwise."""
    if options.engine != "dask" or not options.dask_address:
        yield
        return
    from distributed import Client

    connect: Callable[..., Any] = Client
    with connect(options.dask_address, set_as_default=True):
        yield
