"""The two demand panels of bench/replenishment.py and the planner's rolling forecasts over them (cached on request).

Walmart: 45 stores (items), weekly sales in thousands of USD, 143 weeks; sales are the demand (the panel has no stock
or lost sales). Demo dealership: the default seed's 40 configurations over 156 weeks; its sales are capped by the lot,
so the true demand is re-drawn exactly as `simulate_dealership` draws it (same seed, same spawned generator; checked:
sales never exceed it). The new configuration (6 weeks of history) is left out: no policy can stock it in time.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from opsdesk.planner.demo import simulate_dealership
from opsdesk.planner.demo.catalog import CONFIGS
from opsdesk.planner.demo.dealership import DEFAULT_SEED
from opsdesk.planner.demo.simulate import DISPERSION, draw_demand
from opsdesk.planner.demo.walmart import UNIT_COST, UNIT_PRICE, read_walmart, sku
from opsdesk.planner.forecasting.engine import forecast_demand
from opsdesk.planner.forecasting.results import SeriesForecast
from opsdesk.planner.optimisation.policy import FloatArray


@dataclass(frozen=True)
class Panel:
    """Weekly demand of every item, (items, weeks), with the terms the policies need."""

    name: str
    unit: str
    ids: tuple[str, ...]
    weeks: tuple[pd.Timestamp, ...]
    demand: FloatArray
    lead_time: tuple[int, ...]
    unit_cost: tuple[float, ...]
    unit_price: tuple[float, ...]
    # The demo only: the expected weekly demand each draw came from, and each item's draw ("regular", "rare" …);
    # they give the oracle policy, the ceiling no forecast can pass.
    true_rate: FloatArray | None = None
    kinds: tuple[str, ...] | None = None

    def frame(self, end: int) -> pd.DataFrame:
        """The planner's long frame (`unique_id`, `ds`, `y`) of the weeks before `end`."""
        count = len(self.ids)
        return pd.DataFrame(
            {
                "unique_id": np.repeat(self.ids, end),
                "ds": np.tile(np.asarray(self.weeks[:end], dtype="datetime64[ns]"), count),
                "y": self.demand[:, :end].reshape(-1),
            }
        )


def walmart_panel(data: Path, stores: int | None, lead_time: int) -> Panel:
    """Stores as items, demand = weekly sales in thousands of USD; `stores` keeps the first N stores."""
    path = data / "retail" / "walmart_store_sales.csv"
    weeks = read_walmart(path, range(1, stores + 1) if stores else None)
    frame = pd.DataFrame({"store": [w.store for w in weeks], "week": [w.week for w in weeks]})
    frame["y"] = [w.dollars / UNIT_PRICE for w in weeks]
    table = frame.pivot(index="store", columns="week", values="y").sort_index()
    if table.isna().any().any():
        raise ValueError("the Walmart panel has missing store weeks")
    count = len(table.index)
    return Panel(
        name="walmart",
        unit="thousand USD of sales",
        ids=tuple(sku(int(store)) for store in table.index),
        weeks=tuple(pd.Timestamp(w) for w in table.columns),
        demand=table.to_numpy(np.float64),
        lead_time=(lead_time,) * count,
        unit_cost=(UNIT_COST,) * count,
        unit_price=(UNIT_PRICE,) * count,
    )


def demo_panel(seed: int = DEFAULT_SEED) -> Panel:
    """The demo dealership's true weekly demand per configuration (not its stock-capped sales)."""
    dealer = simulate_dealership(seed)
    history = dealer.history
    count = len(history.starts)
    demand_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[1])
    demand = draw_demand(dealer.rates[:, :count], demand_rng).astype(np.float64)
    if (history.sold > demand).any():
        raise RuntimeError("re-drawn demand is below recorded sales: the demo's draw order changed")
    keep = [i for i, c in enumerate(CONFIGS) if c.kind != "new"]
    return Panel(
        name="demo",
        unit="vehicles",
        ids=tuple(CONFIGS[i].sku for i in keep),
        weeks=tuple(pd.Timestamp(d) for d in history.starts),
        demand=demand[keep],
        lead_time=tuple(CONFIGS[i].lead_time_weeks for i in keep),
        unit_cost=tuple(CONFIGS[i].unit_price * 0.93 for i in keep),
        unit_price=tuple(float(CONFIGS[i].unit_price) for i in keep),
        true_rate=dealer.rates[keep][:, :count],
        kinds=tuple(CONFIGS[i].kind for i in keep),
    )


Forecasts = dict[int, dict[str, SeriesForecast]]


def true_demand_draws(rates: FloatArray, kind: str, samples: int, rng: np.random.Generator) -> FloatArray:
    """Draws of the total demand over the weeks of `rates`, exactly as the demo draws each week."""
    lam = np.maximum(rates, 1e-9)[None, :].repeat(samples, axis=0)
    if kind == "regular":
        weeks = rng.negative_binomial(DISPERSION, DISPERSION / (DISPERSION + lam))
    else:
        weeks = rng.poisson(lam)
        if kind == "rare":
            weeks = np.minimum(weeks, 2)
    weeks = np.where(rates[None, :] > 0, weeks, 0)
    return np.asarray(weeks.sum(axis=1), dtype=np.float64)


def rolling_forecasts(
    panel: Panel,
    origins: Sequence[int],
    horizon: int,
    *,
    n_windows: int,
    n_jobs: int,
    cache: Path | None,
    options: dict[str, Any] | None = None,
) -> Forecasts:
    """The planner's forecast from each origin (weeks before it only), `horizon` weeks ahead; cached per origin.

    `options` override the shipped `ForecastOptions` (for comparisons; the headline uses none).
    """
    out: Forecasts = {}
    overrides = options or {}
    for k, origin in enumerate(origins):
        path = _cache_path(panel, origin, horizon, n_windows, cache, overrides)
        if path is not None and path.exists():
            out[origin] = pickle.loads(path.read_bytes())
            continue
        started = time.perf_counter()
        found = forecast_demand(
            panel.frame(origin), horizon=horizon, freq="W", n_jobs=n_jobs, n_windows=n_windows, **overrides
        )
        out[origin] = {f.unique_id: f for f in found}
        took = time.perf_counter() - started
        print(f"{panel.name}: forecast {k + 1}/{len(origins)} from week {origin} in {took:.0f} s", file=sys.stderr)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(pickle.dumps(out[origin]))
    return out


def _cache_path(
    panel: Panel, origin: int, horizon: int, n_windows: int, cache: Path | None, options: dict[str, Any]
) -> Path | None:
    if cache is None:
        return None
    inputs: tuple[object, ...] = (panel.name, panel.ids, panel.demand[:, :origin].tobytes(), origin, horizon, n_windows)
    if options:
        inputs += (json.dumps(options, sort_keys=True),)
    key = hashlib.sha256(pickle.dumps(inputs)).hexdigest()[:16]
    return cache / f"replenishment-{panel.name}-{origin}-{key}.pkl"
