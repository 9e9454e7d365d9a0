"""Slow items' rates shrunk toward their model line's: by how much is read from the items themselves."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from opsdesk.planner.optimisation import DemandForecast, Problem, demand_curve
from opsdesk.planner.optimisation.model import prepare
from opsdesk.planner.optimisation.pooling import MIN_OLDER_WEEKS, OWN_RATE_WEEKS, line_rates
from opsdesk.planner.optimisation.problem import PlanItem
from tests.planner.optimisation.helpers import item

WEEKS = 156
LEAD_TIME = 8
PERIOD = LEAD_TIME + 1
SHRUNK = "own weekly counts, rate shrunk toward its model line (negative binomial)"


def _slow(weeks: np.ndarray, item_id: str, line: str = "Explorer") -> PlanItem:
    # A Croston-like forecast far from the item's own rate: the own weeks set the level, not this.
    forecast = DemandForecast.of([0.1] * 8, residuals=np.zeros(16), recent_demand=weeks.astype(np.float64))
    return replace(item(item_id, line=line, lead_time_weeks=LEAD_TIME), forecast=forecast)


def _line(rng: np.random.Generator, older: list[float], recent: list[float], line: str = "Explorer") -> list[PlanItem]:
    """One line's items: Poisson weeks at `older` rates, then `OWN_RATE_WEEKS` weeks at `recent` rates."""
    early = WEEKS - OWN_RATE_WEEKS
    return [
        _slow(np.concatenate([rng.poisson(a, early), rng.poisson(b, OWN_RATE_WEEKS)]), f"{line}-{k}", line)
        for k, (a, b) in enumerate(zip(older, recent, strict=True))
    ]


def test_a_shrunk_rate_lies_between_the_own_rate_and_the_lines_estimate() -> None:
    rng = np.random.default_rng(1)
    rates = [0.3, 0.5, 0.4, 0.7, 0.2, 0.6]
    pooled = line_rates(_line(rng, rates, [r * 1.1 for r in rates]))
    assert len(pooled) == len(rates)
    for rate in pooled.values():
        assert 0.0 <= rate.weight <= 1.0
        assert min(rate.own, rate.line) - 1e-12 <= rate.rate <= max(rate.own, rate.line) + 1e-12
    assert any(rate.weight < 0.9 for rate in pooled.values())  # steady shares of slow items: the line counts


def test_the_lines_estimates_add_up_to_the_lines_latest_rate() -> None:
    rng = np.random.default_rng(2)
    pooled = line_rates(_line(rng, [0.3, 0.5, 0.4, 0.7], [0.4, 0.4, 0.5, 0.6]))
    assert sum(r.line for r in pooled.values()) == pytest.approx(sum(r.own for r in pooled.values()))


def test_an_item_with_many_sales_is_barely_moved_while_a_slow_one_leans_on_its_line() -> None:
    rng = np.random.default_rng(3)
    # Shares that really moved by about a fifth between the older and the latest weeks, one item 50 times faster.
    older = [30.0, 0.3, 0.5, 0.4, 0.6, 0.35, 0.45]
    drift = [1.0, 1.2, 0.8, 1.25, 0.85, 1.15, 0.8]
    pooled = line_rates(_line(rng, older, [a * d for a, d in zip(older, drift, strict=True)]))
    fast = pooled["Explorer-0"]
    assert fast.weight > 0.95
    assert abs(fast.moved) < 0.01
    assert max(r.weight for k, r in pooled.items() if k != "Explorer-0") < fast.weight


def test_items_whose_shares_held_lean_on_the_line_and_items_whose_shares_moved_keep_their_own_rate() -> None:
    rng = np.random.default_rng(4)
    rates = [float(r) for r in np.linspace(0.3, 0.7, 20)]  # twenty configurations: the spread between them is read
    steady = line_rates(_line(rng, rates, rates))
    swapped = line_rates(_line(rng, rates, [r * (2.0 if k % 2 else 0.5) for k, r in enumerate(rates)]))
    assert np.mean([r.weight for r in steady.values()]) < 0.75
    assert min(r.weight for r in swapped.values()) > 0.85


def test_shrunk_rates_are_closer_to_the_true_rates_than_the_own_ones_when_shares_hold() -> None:
    """40 lines of six slow items whose line level moves and whose shares hold: errors against the true rates."""
    rng = np.random.default_rng(5)
    own_errors, shrunk_errors = [], []
    for line in range(40):
        shares = rng.dirichlet(np.full(6, 4.0))
        level = 3.0 * np.exp(np.cumsum(rng.normal(0, 0.03, WEEKS)))  # the line's rate wanders
        true = shares[:, None] * level[None, :]
        items = [_slow(rng.poisson(true[k]), f"L{line}-{k}", f"L{line}") for k in range(6)]
        target = true[:, -OWN_RATE_WEEKS:].mean(axis=1)
        for k, rate in line_rates(items).items():
            index = int(k.split("-")[1])
            own_errors.append(rate.own - target[index])
            shrunk_errors.append(rate.rate - target[index])
    own_rmse = float(np.sqrt(np.mean(np.square(own_errors))))
    shrunk_rmse = float(np.sqrt(np.mean(np.square(shrunk_errors))))
    assert shrunk_rmse < 0.9 * own_rmse


def test_an_item_alone_in_its_line_short_of_older_weeks_or_not_in_whole_units_keeps_its_own_rate() -> None:
    rng = np.random.default_rng(6)
    line = _line(rng, [0.4, 0.5, 0.6], [0.4, 0.5, 0.6])
    alone = _line(rng, [0.5], [0.5], line="Bronco")
    short = _slow(rng.poisson(0.5, OWN_RATE_WEEKS + MIN_OLDER_WEEKS - 1), "short")  # too few older weeks
    dollars = _slow(rng.poisson(0.5, WEEKS) * 1.5 + 0.25, "dollars")
    pooled = line_rates([*line, *alone, short, dollars])
    assert set(pooled) == {i.id for i in line}


def test_the_plan_reads_each_slow_items_shrunk_rate() -> None:
    rng = np.random.default_rng(7)
    items = _line(rng, [0.3, 0.5, 0.4, 0.7, 0.2], [0.35, 0.45, 0.5, 0.6, 0.25])
    pooled = line_rates(items)
    prepared = prepare(Problem(items=tuple(items)))
    for plan_item, curve in zip(items, prepared.curves, strict=True):
        assert curve.source == SHRUNK
        assert curve.mean == pytest.approx(pooled[plan_item.id].rate * PERIOD)
        assert np.array_equal(curve.samples, np.round(curve.samples))


def test_a_curve_at_the_own_rate_with_full_weight_is_the_unpooled_curve() -> None:
    rng = np.random.default_rng(8)
    items = _line(rng, [0.4, 0.5], [0.4, 0.5])
    pooled = line_rates(items)["Explorer-0"]
    kept = replace(pooled, weight=1.0, rate=pooled.own)
    assert np.array_equal(demand_curve(items[0], pooled=kept).samples, demand_curve(items[0]).samples)
    # Only the latest weeks set the rate: the older ones change the unpooled curve not at all.
    weeks = items[0].forecast.recent_demand
    assert weeks is not None
    latest = replace(items[0], forecast=replace(items[0].forecast, recent_demand=weeks[-OWN_RATE_WEEKS:]))
    assert np.array_equal(demand_curve(latest).samples, demand_curve(items[0]).samples)
