"""The objective is expected gross profit less holding and shortage cost, weighted by the learned preferences."""

from __future__ import annotations

import pytest

from opsdesk.planner.optimisation import Weights, evaluate, solve
from tests.planner.optimisation.helpers import item, problem


def test_tight_space_goes_to_the_high_margin_item() -> None:
    asked = problem(
        item("thin", mean=6, cost=30_000, price=31_000),
        item("rich", mean=6, cost=30_000, price=38_000),
        lot_space=12,
    )
    result = solve(asked)
    assert result.line("rich").quantity > result.line("thin").quantity
    assert result.line("rich").quantity == result.line("rich").target.gap or "lot_space" in result.line("rich").bound_by


def test_reported_totals_are_the_same_measure_evaluate_gives_any_plan() -> None:
    asked = problem(item("a", mean=6), item("b", mean=3, pack=2), budget=400_000)
    result = solve(asked)
    again = evaluate(asked, result.quantities())
    assert again.objective == pytest.approx(result.totals.objective)
    assert again.expected_gross_profit == pytest.approx(result.totals.expected_gross_profit)


def test_the_solver_beats_or_matches_any_other_feasible_plan() -> None:
    asked = problem(item("a", mean=6), item("b", mean=3, cost=20_000, price=26_000), budget=400_000)
    best = solve(asked).totals.objective
    for a in range(0, 14):
        for b in range(0, 20):
            if a * 30_000 + b * 20_000 <= 400_000:
                assert evaluate(asked, {"a": a, "b": b}).objective <= best + 1e-6 * abs(best)


def test_expected_sales_never_exceed_expected_demand_or_stock() -> None:
    result = solve(problem(item("a", mean=6, on_hand=2)))
    line = result.line("a")
    assert 0 < line.expected_extra_sales <= line.quantity
    assert line.expected_gross_profit <= 4_000 * min(line.stock_after, line.target.expected_demand) + 1e-6


def test_a_stronger_holding_weight_orders_less() -> None:
    asked = problem(item("a", mean=6, cost=30_000, price=31_000))
    light = solve(asked).line("a").quantity
    heavy = solve(problem(*asked.items, weights=Weights(holding=20.0))).line("a").quantity
    assert heavy < light


def test_an_intermittent_item_is_ordered_sensibly() -> None:
    from dataclasses import replace

    from opsdesk.planner.optimisation import DemandForecast

    rare = replace(item("rare"), forecast=DemandForecast.of([0.05] * 8, lo80=[0.0] * 8, hi80=[0.3] * 8))
    line = solve(problem(rare)).line("rare")
    assert 0 <= line.quantity <= 2
    assert line.quantity == line.target.gap
