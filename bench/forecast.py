"""Forecast accuracy and speed on M4 Weekly and Hourly: opsdesk's shipped ensemble beside the standard baselines.

    .venv/bin/python bench/forecast.py --data ../shared/data/m4 [--freq weekly|hourly] [--json]
        [--validate] [--sample N] [--prophet-sample N] [--arima-sample N] [--methods opsdesk,auto_arima,...]
        [--n-jobs 2]

Metrics are the M4 competition's (Makridakis et al. 2020, the M4 Competitor's Guide):
- sMAPE in percent, 200·|y-ŷ|/(|y|+|ŷ|) averaged over the horizon, then over series. Some libraries (e.g.
  utilsforecast's `smape`) report |y-ŷ|/(|y|+|ŷ|), which is half of this /100.
- MASE: mean absolute error over the horizon divided by the in-sample mean absolute error of the seasonal naive
  forecast with the M4 frequency m: m = 1 for Weekly (M4 treats weekly data as non-seasonal for scaling and Naive2;
  datasetsforecast's M4 Weekly also has seasonality=1) and m = 24 for Hourly. Averaged over series.
- OWA = (sMAPE/sMAPE_Naive2 + MASE/MASE_Naive2) / 2, on the averages over all series.
- Naive2: the naive forecast on seasonally adjusted data; a series counts as seasonal when |ACF(m)| exceeds
  1.645·sqrt((1 + 2·Σ_{k<m} ACF(k)²)/n) (90 %), and is then adjusted by classical multiplicative decomposition.
  For Weekly (m = 1) it is the plain naive forecast.
- s_per_1k: wall-clock seconds for the whole method (fit + forecast; for opsdesk including its cross-validation)
  scaled to 1,000 series. All methods run in the same process, one after another, with `--n-jobs` workers
  (Prophet in a pool of the same size). `--prophet-sample N` times Prophet on the first N series only, and
  `--arima-sample N` statsforecast's AutoARIMA (seasonal, m = 52 weekly, is slow); their accuracy then covers those N
  series, and opsdesk is scored again on the same N series (row "opsdesk (first N)").

`--validate` never reads the test files: it holds out the last horizon of each *train* series and scores on that.
Use it (only it) to tune or choose the ensemble.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from bench._results import RESULTS_DIR, publish
from opsdesk.planner.forecasting.engine import forecast_demand
from opsdesk.planner.forecasting.metrics import mase, smape

console = Console(stderr=True)
FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class Spec:
    name: str
    horizon: int
    m: int  # M4 seasonality for MASE and Naive2
    season: int  # season length given to the models
    freq: str  # pandas frequency of the synthetic dates


SPECS = {
    "weekly": Spec("Weekly", 13, 1, 52, "W-MON"),
    "hourly": Spec("Hourly", 48, 24, 24, "h"),
}
REFERENCE = {
    "weekly": "published: Naive2 sMAPE 9.161 / MASE 2.777; AutoARIMA MASE 2.34; LightGBM OWA 0.850; Prophet 7.29",
    "hourly": "published: Naive2 sMAPE 18.383 / MASE 2.395; AutoARIMA MASE 0.92; Prophet MASE 1.78",
}
ALL_METHODS = ("opsdesk", "auto_arima", "auto_ets", "seasonal_naive", "naive2", "prophet")


def load(
    data: Path, spec: Spec, validate: bool, sample: int | None
) -> tuple[list[str], list[FloatArray], list[FloatArray]]:
    """Train histories and the horizon to score; `validate` scores the train's own last horizon instead."""
    train = pd.read_csv(data / f"{spec.name}-train.csv", index_col=0)
    test = pd.read_csv(data / f"{spec.name}-test.csv", index_col=0) if not validate else None
    ids, hist, future = [], [], []
    for uid, row in train.iterrows():
        y = row.dropna().to_numpy(np.float64)
        if validate:
            y, out = y[: -spec.horizon], y[-spec.horizon :]
        else:
            assert test is not None
            out = test.loc[uid].dropna().to_numpy(np.float64)[: spec.horizon]
        ids.append(str(uid))
        hist.append(y)
        future.append(out)
        if sample and len(ids) >= sample:
            break
    return ids, hist, future


def long_frame(ids: list[str], hist: list[FloatArray], spec: Spec) -> pd.DataFrame:
    """Long frame with synthetic dates (M4 series' own dates do not matter to these models)."""
    parts = []
    for uid, y in zip(ids, hist, strict=True):
        ds = pd.date_range("2000-01-03", periods=y.size, freq=spec.freq)
        parts.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": y}))
    return pd.concat(parts, ignore_index=True)


# --- Naive2 -----------------------------------------------------------------------------------------------------


def _acf(y: FloatArray, lag: int) -> float:
    d = y - y.mean()
    return float(np.dot(d[:-lag], d[lag:]) / np.dot(d, d))


def seasonal_by_acf(y: FloatArray, m: int) -> bool:
    """M4's 90 % autocorrelation test for seasonality at lag m."""
    if m <= 1 or y.size < 3 * m:
        return False
    acfs = np.array([_acf(y, k) for k in range(1, m + 1)])
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(acfs[:-1] ** 2)) / y.size)
    return bool(abs(acfs[-1]) > limit)


def seasonal_indices(y: FloatArray, m: int) -> FloatArray:
    """Classical multiplicative decomposition's seasonal figure (centred moving average, normalised to mean 1)."""
    n = y.size
    w = np.r_[0.5, np.ones(m - 1), 0.5] / m if m % 2 == 0 else np.ones(m) / m
    trend = np.full(n, np.nan)
    half = len(w) // 2
    trend[half : n - half] = np.convolve(y, w, mode="valid")
    ratio = y / trend
    figure = np.array([np.nanmean(ratio[k::m]) for k in range(m)])
    return np.asarray(figure / figure.mean(), dtype=np.float64)


def naive2(y: FloatArray, h: int, m: int) -> FloatArray:
    """M4's Naive2 benchmark."""
    if seasonal_by_acf(y, m):
        si = seasonal_indices(y, m)
        adjusted = y / si[np.arange(y.size) % m]
        return np.asarray(adjusted[-1] * si[np.arange(y.size, y.size + h) % m], dtype=np.float64)
    return np.full(h, y[-1])


# --- methods ----------------------------------------------------------------------------------------------------


def _statsforecast(model: Any, frame: pd.DataFrame, spec: Spec, n_jobs: int) -> dict[str, FloatArray]:
    from statsforecast import StatsForecast

    sf = StatsForecast(models=[model], freq=spec.freq, n_jobs=n_jobs)
    out = sf.forecast(h=spec.horizon, df=frame)
    col = next(c for c in out.columns if c not in ("unique_id", "ds"))
    return {str(uid): g[col].to_numpy(np.float64) for uid, g in out.groupby("unique_id")}


def run_opsdesk(frame: pd.DataFrame, spec: Spec, n_jobs: int, options: dict[str, Any]) -> dict[str, FloatArray]:
    fcs = forecast_demand(
        frame, horizon=spec.horizon, freq=spec.freq, n_jobs=n_jobs, season_length=spec.season, **options
    )
    return {f.unique_id: f.mean for f in fcs}


def _prophet_one(args: tuple[str, FloatArray, str, int]) -> tuple[str, FloatArray]:
    from prophet import Prophet

    logging.getLogger("cmdstanpy").setLevel(logging.ERROR)
    logging.getLogger("prophet").setLevel(logging.ERROR)
    uid, y, freq, h = args
    ds = pd.date_range("2000-01-03", periods=y.size, freq=freq)
    model = Prophet()
    model.fit(pd.DataFrame({"ds": ds, "y": y}))
    future = pd.DataFrame({"ds": pd.date_range(ds[-1], periods=h + 1, freq=freq)[1:]})
    return uid, model.predict(future)["yhat"].to_numpy(np.float64)


def run_prophet(ids: list[str], hist: list[FloatArray], spec: Spec, n_jobs: int) -> dict[str, FloatArray]:
    jobs = [(uid, y, spec.freq, spec.horizon) for uid, y in zip(ids, hist, strict=True)]
    with ProcessPoolExecutor(max_workers=n_jobs) as pool:
        return dict(pool.map(_prophet_one, jobs, chunksize=4))


def methods(spec: Spec, n_jobs: int, options: dict[str, Any]) -> dict[str, Callable[..., dict[str, FloatArray]]]:
    from statsforecast.models import AutoARIMA, AutoETS, SeasonalNaive

    def frame_method(build: Callable[[], Any]) -> Callable[..., dict[str, FloatArray]]:
        return lambda ids, hist, frame: _statsforecast(build(), frame, spec, n_jobs)

    return {
        "opsdesk": lambda ids, hist, frame: run_opsdesk(frame, spec, n_jobs, options),
        "auto_arima": frame_method(lambda: AutoARIMA(season_length=spec.season)),
        "auto_ets": frame_method(lambda: AutoETS(season_length=spec.season)),
        "seasonal_naive": frame_method(lambda: SeasonalNaive(season_length=spec.season)),
        "naive2": lambda ids, hist, frame: {u: naive2(y, spec.horizon, spec.m) for u, y in zip(ids, hist, strict=True)},
        "prophet": lambda ids, hist, frame: run_prophet(ids, hist, spec, n_jobs),
    }


def score(
    pred: dict[str, FloatArray], ids: list[str], hist: list[FloatArray], future: list[FloatArray], m: int
) -> tuple[float, float]:
    smapes, mases = [], []
    for uid, y, out in zip(ids, hist, future, strict=True):
        yhat = pred[uid][: out.size]
        smapes.append(smape(out, yhat))
        mases.append(mase(out, yhat, y, m))
    return float(np.mean(smapes)), float(np.mean(mases))


def run_frequency(args: argparse.Namespace, key: str) -> dict[str, dict[str, Any]]:
    spec = SPECS[key]
    ids, hist, future = load(args.data, spec, args.validate, args.sample)
    frame = long_frame(ids, hist, spec)
    options = json.loads(args.opsdesk_options) if args.opsdesk_options else {}
    table = methods(spec, args.n_jobs, options)
    wanted = [m for m in args.methods.split(",") if m]
    results: dict[str, dict[str, Any]] = {}
    naive2_scores: dict[int, tuple[float, float]] = {}
    predictions: dict[str, dict[str, FloatArray]] = {}
    for name in ["naive2", *[w for w in wanted if w != "naive2"]]:
        if name == "prophet":
            try:
                import prophet  # noqa: F401
            except ImportError:
                console.print("prophet is not installed: skipped")
                continue
        n = len(ids)
        if name == "prophet" and args.prophet_sample:
            n = min(args.prophet_sample, len(ids))
        if name == "auto_arima" and args.arima_sample:
            n = min(args.arima_sample, len(ids))
        sub_frame = frame[frame["unique_id"].isin(set(ids[:n]))] if n < len(ids) else frame
        console.print(f"[{spec.name}] {name} on {n} series ...")
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pred = table[name](ids[:n], hist[:n], sub_frame)
        seconds = time.perf_counter() - started
        s, ms = score(pred, ids[:n], hist[:n], future[:n], spec.m)
        if n not in naive2_scores:
            naive2_scores[n] = score(table["naive2"](ids[:n], hist[:n], None), ids[:n], hist[:n], future[:n], spec.m)
        s2, m2 = naive2_scores[n]
        results[name] = {
            "mase": round(ms, 4),
            "smape": round(s, 4),
            "owa": round((s / s2 + ms / m2) / 2, 4),
            "s_per_1k": round(seconds * 1000 / n, 2),
            "series": n,
        }
        console.print(f"  {results[name]}")
        predictions[name] = pred
    # Methods timed on a sample: opsdesk scored on the same series, so the accuracy columns compare like with like.
    for n in sorted({r["series"] for r in results.values()} - {len(ids)}):
        if "opsdesk" not in predictions:
            break
        s, ms = score(predictions["opsdesk"], ids[:n], hist[:n], future[:n], spec.m)
        s2, m2 = naive2_scores[n]
        results[f"opsdesk (first {n})"] = {
            "mase": round(ms, 4),
            "smape": round(s, 4),
            "owa": round((s / s2 + ms / m2) / 2, 4),
            "s_per_1k": results["opsdesk"]["s_per_1k"],
            "series": n,
        }
    return results


def render(key: str, results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    split = "validation (last horizon of train)" if args.validate else "test"
    table = Table(title=f"M4 {SPECS[key].name} h={SPECS[key].horizon}, {split}, n_jobs={args.n_jobs}")
    for col in ("method", "series", "MASE", "sMAPE (%)", "OWA", "s / 1k series"):
        table.add_column(col, justify="right" if col != "method" else "left")
    for name, r in results.items():
        table.add_row(
            name, str(r["series"]), f"{r['mase']:.3f}", f"{r['smape']:.3f}", f"{r['owa']:.3f}", f"{r['s_per_1k']:.1f}"
        )
    Console().print(table)
    print(REFERENCE[key])
    if "opsdesk" in results and "prophet" in results:
        print(f"opsdesk is {results['prophet']['s_per_1k'] / results['opsdesk']['s_per_1k']:.1f}x faster than Prophet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/m4"))
    parser.add_argument("--freq", choices=("weekly", "hourly", "both"), default="both")
    parser.add_argument("--methods", default=",".join(ALL_METHODS))
    parser.add_argument("--n-jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--sample", type=int, default=None, help="only the first N series (quick runs)")
    parser.add_argument("--prophet-sample", type=int, default=None, help="time and score Prophet on N series")
    parser.add_argument("--arima-sample", type=int, default=None, help="time and score AutoARIMA on N series")
    parser.add_argument("--validate", action="store_true", help="score on the train's last horizon (for tuning)")
    parser.add_argument("--opsdesk-options", default="", help="JSON overrides for ForecastOptions (tuning)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    keys = ["weekly", "hourly"] if args.freq == "both" else [args.freq]
    out: dict[str, Any] = {}
    for key in keys:
        out[key] = run_frequency(args, key)
        render(key, out[key], args)
    name = "forecast_validate" if args.validate else "forecast"
    publish(name, {**_earlier(name), **out}, as_json=args.json)


def _earlier(name: str) -> dict[str, Any]:
    """The frequencies of the last run not run now stay in the results file (an hourly run keeps Weekly's)."""
    path = RESULTS_DIR / f"{name}.json"
    try:
        kept = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return kept if isinstance(kept, dict) else {}


if __name__ == "__main__":
    main()
