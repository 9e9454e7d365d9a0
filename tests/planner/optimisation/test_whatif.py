"""What-if: re-solving with changed constraints returns the changed plan and what moved."""

from __future__ import annotations

from dataclasses import replace

from opsdesk.planner.optimisation import Weights, solve, what_if
from tests.planner.optimisation.helpers import item, problem


def test_more_lot_space_orders_more_and_lists_the_lines_that_moved() -> None:
    base_problem = problem(item("a", mean=6), item("b", mean=6, line="Bronco"), lot_space=12)
    base = solve(base_problem)
    answer = what_if(base_problem, constraints=replace(base_problem.constraints, lot_space=40), base=base)
    assert answer.base is base
    assert answer.result.totals.units > base.totals.units
    assert answer.changes
    for change in answer.changes:
        assert change.before == base.line(change.item_id).quantity
        assert change.after == answer.result.line(change.item_id).quantity
        assert change.delta > 0
    assert answer.objective_delta > 0
    assert "lines change" in answer.summary


def test_a_what_if_that_conflicts_is_explained_not_raised() -> None:
    base_problem = problem(item("a", mean=6, min_units=4))
    answer = what_if(base_problem, constraints=replace(base_problem.constraints, budget=50_000))
    assert answer.result.status == "infeasible"
    assert "budget must grow" in answer.summary


def test_changed_weights_re_solve_the_same_items() -> None:
    base_problem = problem(item("a", mean=6), item("b", mean=6))
    answer = what_if(base_problem, weights=Weights(item_bias={"a": 0.5}))
    assert answer.result.line("a").quantity < answer.base.line("a").quantity
    assert answer.result.line("b").quantity == answer.base.line("b").quantity
    assert [c.item_id for c in answer.changes] == ["a"]


def test_an_unchanged_what_if_changes_nothing() -> None:
    base_problem = problem(item("a", mean=6), budget=500_000)
    answer = what_if(base_problem, constraints=base_problem.constraints)
    assert answer.changes == ()
    assert answer.objective_delta == 0
