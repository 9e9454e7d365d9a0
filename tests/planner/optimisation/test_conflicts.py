"""Conflicting constraints: the conflict is named, relaxations are offered, and applying one makes it feasible."""

from __future__ import annotations

from opsdesk.planner.optimisation import solve
from tests.planner.optimisation.helpers import item, problem, units_of


def test_minimum_units_above_the_allocation_name_both_and_offer_either_relaxation() -> None:
    asked = problem(
        item("xlt", mean=1, min_units=6),
        item("st", mean=1, min_units=5),
        item("bronco", line="Bronco", mean=2),
        allocation={"Explorer": 8},
    )
    result = solve(asked)
    assert result.status == "infeasible"
    assert result.infeasibility is not None
    assert set(result.infeasibility.conflicting) == {"allocation:Explorer", "min_units"}
    texts = [option.text for option in result.infeasibility.relaxations]
    assert "the Explorer allocation must grow by 3 units (to 11)" in texts
    assert any(text.startswith("minimum units must drop") for text in texts)
    assert "Explorer allocation (8 units)" in result.infeasibility.message
    for option in result.infeasibility.relaxations:
        relaxed = solve(option.problem)
        assert relaxed.status == "optimal"
        assert relaxed.infeasibility is None


def test_minimum_days_of_supply_beyond_the_budget_offers_more_budget_or_fewer_days() -> None:
    asked = problem(
        item("a", mean=7, on_hand=2),
        item("b", mean=3.5, cost=40_000, price=46_000),
        budget=300_000,
        min_days_of_supply=30,
    )
    result = solve(asked)
    assert result.infeasibility is not None
    assert set(result.infeasibility.conflicting) == {"budget", "min_days_of_supply"}
    kinds = {option.changes[0].constraint for option in result.infeasibility.relaxations if len(option.changes) == 1}
    assert kinds == {"budget", "min_days_of_supply"}
    budget = next(o for o in result.infeasibility.relaxations if o.changes[0].constraint == "budget")
    assert budget.changes[0].after > 300_000
    assert "budget must grow by SGD" in budget.text
    days = next(o for o in result.infeasibility.relaxations if o.changes[0].constraint == "min_days_of_supply")
    assert days.changes[0].after < 30
    for option in result.infeasibility.relaxations:
        assert solve(option.problem).status == "optimal"


def test_an_infeasible_run_still_plans_every_item_under_the_smallest_relaxation() -> None:
    asked = problem(item("a", mean=1, min_units=6), item("b", mean=1, min_units=5), allocation={"Explorer": 8})
    result = solve(asked)
    assert result.infeasibility is not None
    assert [line.item_id for line in result.lines] == ["a", "b"]
    smallest = result.infeasibility.relaxations[0]
    assert all(smallest.text in line.reason for line in result.lines)
    assert result.quantities() == solve(smallest.problem).quantities()


def test_a_pack_larger_than_the_maximum_is_a_named_conflict() -> None:
    asked = problem(item("a", mean=3, pack=6, min_units=1, max_units=4))
    result = solve(asked)
    assert result.infeasibility is not None
    assert set(result.infeasibility.conflicting) == {"min_units", "max_units"}
    for option in result.infeasibility.relaxations:
        assert solve(option.problem).status == "optimal"


def test_stock_already_over_the_lot_space_asks_for_more_space() -> None:
    asked = problem(item("a", mean=1, on_hand=50), item("b", mean=2, min_units=2), lot_space=30)
    result = solve(asked)
    assert result.infeasibility is not None
    assert "lot_space" in result.infeasibility.conflicting
    option = next(o for o in result.infeasibility.relaxations if o.changes[0].constraint == "lot_space")
    assert option.changes[0].after >= 30
    assert units_of(solve(option.problem), "Explorer", asked) >= 2
