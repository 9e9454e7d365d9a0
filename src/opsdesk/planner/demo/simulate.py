"""Week by week life of the demo lot: demand arrives, units sell oldest first, the manager orders by gut feeling.

Demand per configuration is drawn from its expected rate (season x market x popularity) with negative-binomial
noise; what sells is capped by the units on the lot, so sales.csv holds real censored sales, not demand. Units are
tracked one by one (VIN, arrival day, cost), so days on lot, days to turn and the price cut of an aged unit follow
from the orders that were placed. Two order rules run side by side each week:

- ``recommended``: the earlier tool's moving-average order-up-to (8-week mean, 1.28 sigma sqrt(L+1) safety stock),
  cut to the allocation like the orders; recomputed each week from the lot the manager's orders left;
- ``ordered``: the manager's gut — last year's average rate (no season, no trend) x the line's ``gut_bias``, up to
  ``COVER_WEEKS`` of stock beyond the lead time, cut to the maker's weekly allocation per line. Only these arrive.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

from opsdesk.planner.demo.catalog import CONFIGS, DEALER_MARGIN, LINES, RARE_RATE, line
from opsdesk.planner.demo.market import MarketPaths, month_start
from opsdesk.planner.demo.profile import Profile

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

COVER_WEEKS = 3  # the manager's stock target beyond the lead time, in weeks of (believed) demand
DISPERSION = 6.0  # negative-binomial size of a regular configuration's weekly demand
_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY"  # VIN model-year letters from 2010
_VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"  # I, O and Q never appear in a VIN
_VIN_VALUES = dict(zip(_VIN_CHARS, (int(v) for v in "012345678912345678123457923456789"), strict=True))
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


@dataclass(slots=True)
class Unit:
    """One vehicle: where it came from and what it cost."""

    vin: str
    sku: str
    arrived: date
    cost: float


@dataclass(frozen=True, slots=True)
class History:
    """Everything the weeks produced; arrays are (configurations, weeks) in ``CONFIGS`` order."""

    starts: tuple[date, ...]
    first_week: IntArray  # first week each configuration was on sale
    expected: FloatArray  # the demand rate the draws came from
    sold: IntArray
    price: FloatArray
    gross: FloatArray
    recommended: IntArray
    ordered: IntArray
    days_to_turn: FloatArray  # nan where nothing sold
    on_lot: tuple[Unit, ...]  # at the snapshot, oldest first per configuration
    on_order: tuple[tuple[str, date, int], ...]  # (sku, arrival week, units) after the snapshot


def vin(wmi: str, sku_index: int, year: int, serial: int) -> str:
    """A VIN-shaped id with a valid check digit (position 9), unique by serial."""
    vds = "".join("ABCDEFGHJKLMNPRSTUVWXYZ"[(sku_index * 7 + k * 3) % 23] for k in range(5))
    body = f"{wmi}{vds}0{_YEAR_CODES[year - 2010]}F{serial:06d}"
    total = sum(_VIN_VALUES[char] * weight for char, weight in zip(body, _VIN_WEIGHTS, strict=True)) % 11
    return body[:8] + ("X" if total == 10 else str(total)) + body[9:]


def expected_demand(
    profile: Profile, starts: tuple[date, ...], paths: MarketPaths, volume: float, launch: int
) -> FloatArray:
    """Weekly demand rate per configuration: dealer volume x national season x segment path x popularity."""
    weights = {item.name: sum(c.popularity for c in CONFIGS if c.line == item.name) for item in LINES}
    line_index = {item.name: k for k, item in enumerate(LINES)}
    rates = np.zeros((len(CONFIGS), len(starts)))
    for t, start in enumerate(starts):
        month = month_start(start + timedelta(days=3))  # the month holding the week's Thursday
        season = profile.seasonal_index[month.month - 1]
        factor = paths.demand_factor(month)
        for i, config in enumerate(CONFIGS):
            item = line(config.line)
            tilt = 1 + item.summer_tilt * math.cos(2 * math.pi * (month.month - 6.5) / 12)
            base = RARE_RATE if config.kind == "rare" else volume * item.volume_share * config.popularity
            share = base if config.kind == "rare" else base / weights[config.line]
            rates[i, t] = share * season * tilt * factor[line_index[config.line]]
    for i, config in enumerate(CONFIGS):
        if config.kind == "new":
            rates[i, :launch] = 0.0
    return rates


def draw_demand(rates: FloatArray, rng: np.random.Generator) -> IntArray:
    """Negative-binomial weeks for regular configurations, Poisson (capped at 2) for rare ones."""
    demand = rng.negative_binomial(DISPERSION, DISPERSION / (DISPERSION + np.maximum(rates, 1e-9)))
    for i, config in enumerate(CONFIGS):
        if config.kind != "regular":
            demand[i] = rng.poisson(rates[i])
        if config.kind == "rare":
            demand[i] = np.minimum(demand[i], 2)
    return np.asarray(np.where(rates > 0, demand, 0), dtype=np.int64)


def _round_up(units: float, multiple: int) -> int:
    return max(0, math.ceil(units / multiple - 1e-9) * multiple) if units > 0 else 0


def _round_near(units: float, multiple: int) -> int:
    return max(0, math.floor(units / multiple + 0.5) * multiple)


def _allocate(orders: list[int], members: list[int], cap: int) -> None:
    """Cuts the largest orders of a line, one pack at a time, until the line fits the maker's allocation."""
    while sum(orders[i] for i in members) > cap:
        largest = max(members, key=lambda i: (orders[i], -i))
        orders[largest] -= CONFIGS[largest].pack_multiple
        orders[largest] = max(orders[largest], 0)


class _Lot:
    """The lot and the pipeline while the weeks run; turns orders and demand into units, sales and money."""

    def __init__(self, starts: tuple[date, ...], rates: FloatArray, rng: np.random.Generator) -> None:
        self.starts, self.rates, self.rng = starts, rates, rng
        horizon = len(starts) + max(c.lead_time_weeks for c in CONFIGS) + 1
        self.arrivals = [[0] * horizon for _ in CONFIGS]  # units arriving at the start of each week
        self.units: list[deque[Unit]] = [deque() for _ in CONFIGS]
        self.serial = 100_000

    def receive(self, i: int, days: list[date]) -> None:
        config = CONFIGS[i]
        for day in sorted(days):
            self.serial += 1
            year = day.year + (1 if day.month >= 7 else 0)
            cost = config.unit_price * (1 - DEALER_MARGIN) * (1 + self.rng.uniform(-0.01, 0.015))
            unit = Unit(vin(line(config.line).wmi, i, year, self.serial), config.sku, day, round(cost, 2))
            self.units[i].append(unit)

    def sell(self, i: int, t: int, demand: int) -> tuple[int, float, float, float]:
        """(units sold, mean price, gross, mean days on lot of the sold units) for one configuration and week."""
        config, sold, revenue, gross, ages = CONFIGS[i], 0, 0.0, 0.0, 0
        for _ in range(min(demand, len(self.units[i]))):
            unit = self.units[i].popleft()
            day = max(self.starts[t] + timedelta(days=int(self.rng.integers(0, 7))), unit.arrived)
            age = (day - unit.arrived).days
            price = round(config.unit_price * (1 - 0.02 - 0.0005 * age), 2)  # aged units need a deeper cut
            sold, revenue, gross, ages = sold + 1, revenue + price, gross + price - unit.cost, ages + age
        offered = round(config.unit_price * 0.98, 2)
        return sold, (revenue / sold if sold else offered), gross, (ages / sold if sold else math.nan)


def _beliefs(rates: FloatArray, first: IntArray) -> FloatArray:
    """The manager's rate each week: last year's mean expected demand (since launch), times the line's bias."""
    cumulative = np.concatenate([np.zeros((rates.shape[0], 1)), np.cumsum(rates, axis=1)], axis=1)
    weeks = np.arange(rates.shape[1])[None, :]
    low = np.maximum(first[:, None], weeks - 51)
    rows = np.arange(rates.shape[0])[:, None]
    mean = (cumulative[rows, weeks + 1] - cumulative[rows, low]) / np.maximum(weeks + 1 - low, 1)
    return np.asarray(mean * np.array([line(c.line).gut_bias for c in CONFIGS])[:, None], dtype=np.float64)


def _moving_average_target(recent: list[int], lead: int) -> float:
    """The earlier tool's order-up-to level: 8-week mean over lead time and review, 1.28 sigma safety stock."""
    mean = sum(recent) / len(recent)
    sigma = math.sqrt(sum((x - mean) ** 2 for x in recent) / len(recent))
    return mean * (lead + 1) + 1.28 * sigma * math.sqrt(lead + 1)


def simulate(starts: tuple[date, ...], rates: FloatArray, demand: IntArray, rng: np.random.Generator) -> History:
    """Runs the weeks; orders placed at the end of week t arrive at the start of week t + lead time."""
    lot, weeks = _Lot(starts, rates, rng), len(starts)
    shape = (len(CONFIGS), weeks)
    sold, recommended, ordered = (np.zeros(shape, dtype=np.int64) for _ in range(3))
    price, gross, turn = np.zeros(shape), np.zeros(shape), np.full(shape, math.nan)
    first = np.array([int(np.argmax(rates[i] > 0)) for i in range(len(CONFIGS))], dtype=np.int64)
    beliefs = _beliefs(rates, first)
    for i, config in enumerate(CONFIGS):  # the lot as the gut rule would have left it, and its pipeline
        belief, start = float(beliefs[i, first[i]]), int(first[i])
        stock, spread = (round(belief * COVER_WEEKS), 14 * COVER_WEEKS) if start == 0 else (round(belief * 2), 7)
        lot.receive(i, [starts[start] - timedelta(days=int(rng.integers(1, spread))) for _ in range(stock)])
        for k, units in enumerate(rng.poisson(belief, config.lead_time_weeks)):
            lot.arrivals[i][start + k] = int(units)
    members = {item.name: [i for i, c in enumerate(CONFIGS) if c.line == item.name] for item in LINES}
    sales: list[list[int]] = [[] for _ in CONFIGS]
    for t in range(weeks):
        orders, advice = [0] * len(CONFIGS), [0] * len(CONFIGS)
        for i, config in enumerate(CONFIGS):
            if t < first[i]:
                continue
            lot.receive(i, [starts[t] + timedelta(days=int(rng.integers(0, 5))) for _ in range(lot.arrivals[i][t])])
            sold[i, t], price[i, t], gross[i, t], turn[i, t] = lot.sell(i, t, int(demand[i, t]))
            sales[i].append(int(sold[i, t]))
            lead = config.lead_time_weeks
            position = len(lot.units[i]) + sum(lot.arrivals[i][t + 1 : t + lead + 1])
            orders[i] = _round_near(beliefs[i, t] * (lead + COVER_WEEKS) - position, config.pack_multiple)
            advice[i] = _round_up(_moving_average_target(sales[i][-8:], lead) - position, config.pack_multiple)
        for item in LINES:
            cap = math.ceil(float(rates[members[item.name], t].sum()) * item.allocation_factor)
            _allocate(orders, members[item.name], cap)
            _allocate(advice, members[item.name], cap)
        for i, config in enumerate(CONFIGS):
            ordered[i, t], recommended[i, t] = orders[i], advice[i]
            lot.arrivals[i][t + config.lead_time_weeks] += orders[i]
    snapshot = starts[-1] + timedelta(days=7)
    pipeline = tuple(
        (config.sku, snapshot + timedelta(weeks=w - weeks), lot.arrivals[i][w])
        for i, config in enumerate(CONFIGS)
        for w in range(weeks, len(lot.arrivals[i]))
        if lot.arrivals[i][w] > 0
    )
    on_lot = tuple(unit for units in lot.units for unit in units)
    return History(starts, first, rates, sold, price, gross, recommended, ordered, turn, on_lot, pipeline)
