"""The demo dealership as the planner's import files: 40 configurations, 3 years of weekly sales and what goes with it.

What is real and what is invented:

- Real: the season (12 monthly factors) and the market's yearly growth come from Norway's national new-car sales
  2007-2016, and segment shares wander at the pace the real make shares moved there (``profile.json``, derived
  by ``profile.derive_profile``). The dealer's volume (``WEEKLY_VOLUME``: 20 units a week before season and
  trend) scales that down.
- Invented: the dealership, its 6 model lines and 40 configurations (``catalog.py``), their popularity, prices,
  lead times, the lines' own trends (Maverick +15 %/year, Mustang -6 %, Escape -3 %, Bronco +4 %) and Mustang's
  summer peak (convertibles) on top of the national season.

Built in, for the planner to find:

- Intermittent items: five rare trims (Explorer King Ranch, Bronco Raptor, F-150 Limited and Raptor, Mustang Dark
  Horse) sell 0-2 a week; one new configuration (Maverick Lobo) has only ``NEW_ITEM_WEEKS`` weeks of history.
- The manager's gut (feedback.csv ``ordered``) was systematically off: Explorer stocked 50 % above its usual
  demand, Mustang 40 % above and with no eye for its season (too many in winter, short in summer), F-150 10 % above,
  Maverick 40 % below while the line grows 15 % a year (lost sales, units gone within days of arriving), and every
  line from last year's average, so trends and seasons are always late. Bronco's allocation is only 1.05x its
  expected demand, so it binds in busy weeks. Over a year orders follow sales in every line (order-up-to), so the
  error shows where a learner can measure it: days to turn (default seed: Maverick 13, Escape 31, F-150 38,
  Explorer 42, Mustang 62 days), gross per unit (an aged unit sells with a deeper price cut: 2 % + 0.05 % a day on
  the lot), aged units (> 90 days) and weeks of supply on the lot. ``recommended`` is the earlier tool's
  moving-average order-up-to, recomputed each week and never followed.
- Sales are what sold, capped by the units on the lot (censored demand), and the inventory snapshot is the lot
  that those orders and sales left, unit by unit.

Same seed, same bytes: every random draw comes from one seed through ``numpy.random.SeedSequence``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from opsdesk.planner.demo.catalog import CONFIGS, DEALER_MARGIN, LINES, NEW_ITEM_WEEKS
from opsdesk.planner.demo.columns import (
    ALLOCATIONS,
    COLUMNS,
    CONSTRAINTS,
    FEEDBACK,
    INVENTORY,
    ITEMS,
    MARKET,
    ON_ORDER,
    SALES,
)
from opsdesk.planner.demo.market import MarketPaths, market_paths, market_rows, month_start
from opsdesk.planner.demo.profile import Profile, load_profile
from opsdesk.planner.demo.simulate import FloatArray, History, draw_demand, expected_demand, simulate

DEFAULT_SEED = 11
DEFAULT_SNAPSHOT = date(2026, 11, 30)  # a Monday: the history's weeks end the day before
WEEKLY_VOLUME = 20.0  # the dealer's average units a week before season and trend
LOT_SPACE = 160
MIN_DAYS_OF_SUPPLY = 21
HORIZON_WEEKS = 8  # allocation weeks ahead of the snapshot
FEEDBACK_WEEKS = 52
CURRENCY = "USD"


def csv_bytes(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """UTF-8 CSV with a header and ``\\n`` line ends, so the same rows always give the same bytes."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _money(value: float) -> str:
    return f"{value:.2f}"


def _item_rows() -> list[tuple[object, ...]]:
    return [
        (
            c.sku,
            c.line,
            c.trim,
            c.options,
            _money(c.unit_price * (1 - DEALER_MARGIN)),
            _money(c.unit_price),
            f"{c.lot_spaces:g}",
            c.pack_multiple,
            c.lead_time_weeks,
        )
        for c in CONFIGS
    ]


def _sales_rows(history: History) -> list[tuple[object, ...]]:
    return [
        (
            history.starts[t].isoformat(),
            c.sku,
            int(history.sold[i, t]),
            _money(history.price[i, t]),
            _money(history.gross[i, t]),
        )
        for i, c in enumerate(CONFIGS)
        for t in range(int(history.first_week[i]), len(history.starts))
    ]


def _feedback_rows(history: History) -> list[tuple[object, ...]]:
    first = len(history.starts) - FEEDBACK_WEEKS
    rows: list[tuple[object, ...]] = []
    for i, c in enumerate(CONFIGS):
        for t in range(max(first, int(history.first_week[i])), len(history.starts)):
            turn = history.days_to_turn[i, t]
            rows.append(
                (
                    c.sku,
                    history.starts[t].isoformat(),
                    int(history.recommended[i, t]),
                    int(history.ordered[i, t]),
                    int(history.sold[i, t]),
                    _money(history.gross[i, t]),
                    "" if math.isnan(turn) else f"{turn:.1f}",
                )
            )
    return rows


def _inventory_rows(history: History, snapshot: date) -> list[tuple[object, ...]]:
    return [(snapshot.isoformat(), u.vin, u.sku, (snapshot - u.arrived).days, _money(u.cost)) for u in history.on_lot]


def _allocation_caps(rates: FloatArray, weeks: range) -> dict[str, list[int]]:
    caps: dict[str, list[int]] = {}
    for item in LINES:
        members = [i for i, c in enumerate(CONFIGS) if c.line == item.name]
        caps[item.name] = [math.ceil(float(rates[members, t].sum()) * item.allocation_factor) for t in weeks]
    return caps


def _shares(counts: dict[str, float]) -> dict[str, float]:
    total = sum(counts.values()) or 1.0
    return {name: value / total for name, value in counts.items()}


def _constraints(history: History, rates: FloatArray, caps: dict[str, list[int]], snapshot: date) -> dict[str, object]:
    """Feasible by construction: the mix bounds hold both today's stock mix and the expected demand mix."""
    future = rates[:, len(history.starts) :]
    line_of = {c.sku: c.line for c in CONFIGS}
    expected, on_lot = dict.fromkeys(line_of.values(), 0.0), dict.fromkeys(line_of.values(), 0.0)
    for i, config in enumerate(CONFIGS):
        expected[config.line] += float(future[i].sum())
    for unit in history.on_lot:
        on_lot[line_of[unit.sku]] += 1
    demand, stock = _shares(expected), _shares(on_lot)
    mix = {
        name: {
            "min": max(0.0, math.floor((min(demand[name], stock[name]) - 0.05) * 100) / 100),
            "max": min(1.0, math.ceil((max(demand[name], stock[name]) + 0.05) * 100) / 100),
        }
        for name in demand
    }
    week_cost = sum(float(future[i, 0]) * c.unit_price * (1 - DEALER_MARGIN) for i, c in enumerate(CONFIGS))
    return {
        "allocation": {name: values[0] for name, values in caps.items()},
        "budget": round(1.5 * week_cost, -4),
        "currency": CURRENCY,
        "lot_space": LOT_SPACE,
        "min_days_of_supply": MIN_DAYS_OF_SUPPLY,
        "mix": mix,
        "period_start": snapshot.isoformat(),
    }


@dataclass(frozen=True, slots=True)
class Dealership:
    """The simulated dealership before it becomes files: its weeks, demand rates (horizon included) and market."""

    snapshot: date
    history: History
    rates: FloatArray  # (configurations, history weeks + HORIZON_WEEKS)
    paths: MarketPaths


def simulate_dealership(
    seed: int = DEFAULT_SEED, *, years: int = 3, snapshot: date = DEFAULT_SNAPSHOT, profile: Profile | None = None
) -> Dealership:
    """Runs the dealership's weeks up to ``snapshot`` (a Monday); every draw comes from ``seed``."""
    if snapshot.weekday() != 0:
        raise ValueError("the snapshot date must be a Monday (weeks start on Mondays)")
    profile = profile or load_profile()
    weeks = 52 * years
    starts = tuple(snapshot - timedelta(weeks=weeks - t) for t in range(weeks + HORIZON_WEEKS))
    market_rng, demand_rng, lot_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
    paths = market_paths(profile, month_start(starts[0]), month_start(starts[-1] + timedelta(days=3)), market_rng)
    rates = expected_demand(profile, starts, paths, WEEKLY_VOLUME, launch=weeks - NEW_ITEM_WEEKS)
    history = simulate(starts[:weeks], rates[:, :weeks], draw_demand(rates[:, :weeks], demand_rng), lot_rng)
    return Dealership(snapshot, history, rates, paths)


def dealership_files(
    seed: int = DEFAULT_SEED, *, years: int = 3, snapshot: date = DEFAULT_SNAPSHOT, profile: Profile | None = None
) -> dict[str, bytes]:
    """Every demo file by name (``columns.py`` lists them); the same arguments always give the same bytes."""
    return render(simulate_dealership(seed, years=years, snapshot=snapshot, profile=profile))


def render(dealer: Dealership) -> dict[str, bytes]:
    """The dealership as the planner's import files."""
    history, rates, snapshot = dealer.history, dealer.rates, dealer.snapshot
    weeks = len(history.starts)
    future = [snapshot + timedelta(weeks=k) for k in range(HORIZON_WEEKS)]
    caps = _allocation_caps(rates, range(weeks, weeks + HORIZON_WEEKS))
    allocations = [(week.isoformat(), name, caps[name][k]) for k, week in enumerate(future) for name in caps]
    return {
        ITEMS: csv_bytes(COLUMNS[ITEMS], _item_rows()),
        INVENTORY: csv_bytes(COLUMNS[INVENTORY], _inventory_rows(history, snapshot)),
        SALES: csv_bytes(COLUMNS[SALES], _sales_rows(history)),
        MARKET: csv_bytes(COLUMNS[MARKET], market_rows(dealer.paths, month_start(snapshot))),
        ALLOCATIONS: csv_bytes(COLUMNS[ALLOCATIONS], allocations),
        FEEDBACK: csv_bytes(COLUMNS[FEEDBACK], _feedback_rows(history)),
        ON_ORDER: csv_bytes(COLUMNS[ON_ORDER], [(sku, week.isoformat(), n) for sku, week, n in history.on_order]),
        CONSTRAINTS: (
            json.dumps(_constraints(history, rates, caps, snapshot), indent=2, sort_keys=True) + "\n"
        ).encode(),
    }


def write_files(directory: Path, files: dict[str, bytes]) -> list[Path]:
    """Writes the files into ``directory`` (created when missing); returns their paths in name order."""
    directory.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for name in sorted(files):
        path = directory / name
        path.write_bytes(files[name])
        paths.append(path)
    return paths


def write_dealership(
    directory: Path, seed: int = DEFAULT_SEED, *, years: int = 3, snapshot: date = DEFAULT_SNAPSHOT
) -> list[Path]:
    """The demo dealership's files, written into ``directory``."""
    return write_files(directory, dealership_files(seed, years=years, snapshot=snapshot))
