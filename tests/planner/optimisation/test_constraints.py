"""Every constraint kind holds in the solver's answer, and the line it bound says so."""

from __future__ import annotations

import math

from opsdesk.planner.optimisation import MixShare, solve
from tests.planner.optimisation.helpers import item, problem, units_of


def test_without_constraints_each_order_brings_stock_to_its_target() -> None:
    result = solve(problem(item("a", mean=5, on_hand=3), item("b", mean=2, on_order=1)))
    assert result.status == "optimal"
    for line in result.lines:
        assert line.quantity == line.target.gap
        assert line.bound_by == ()
        assert "No constraint bound it" in line.reason


def test_minimum_units_raise_an_order_above_its_target() -> None:
    asked = problem(item("a", mean=1, min_units=9))
    line = solve(asked).line("a")
    assert line.quantity == 9 > line.target.gap
    assert line.bound_by == ("min_units",)
    assert "minimum of 9 units" in line.reason


def test_maximum_units_cap_an_order() -> None:
    line = solve(problem(item("a", mean=6, max_units=4))).line("a")
    assert line.quantity == 4 < line.target.gap
    assert "max_units" in line.bound_by
    assert "maximum of 4 units" in line.reason


def test_budget_holds_and_binds() -> None:
    asked = problem(item("a", mean=6), item("b", mean=6, cost=20_000, price=23_000), budget=250_000)
    result = solve(asked)
    assert result.totals.cost <= 250_000
    assert sum(line.target.gap for line in result.lines) > result.totals.units
    assert all("budget" in line.bound_by for line in result.lines)
    assert next(u for u in result.usage if u.constraint == "budget").binding
    assert "the budget (SGD" in result.line("a").reason


def test_lot_space_counts_stock_expected_on_the_lot_when_the_order_arrives() -> None:
    # 30 on hand, 3 weeks of lead time at 5 a week: about 15 still on the lot when the order lands.
    asked = problem(item("a", mean=5, on_hand=30, space=1.5), item("b", mean=5, space=1.0), lot_space=40)
    result = solve(asked)
    used = next(u for u in result.usage if u.constraint == "lot_space")
    assert used.used == 15 * 1.5 + 1.5 * result.line("a").quantity + result.line("b").quantity
    assert used.used <= 40
    assert used.binding
    assert all("lot_space" in line.bound_by for line in result.lines if line.quantity < line.target.gap)


def test_model_line_allocation_caps_the_line() -> None:
    asked = problem(item("a", mean=6), item("b", mean=6), item("c", mean=6, line="Bronco"), allocation={"Explorer": 10})
    result = solve(asked)
    assert units_of(result, "Explorer", asked) == 10
    assert result.line("c").quantity == result.line("c").target.gap
    assert "allocation:Explorer" in result.line("a").bound_by
    assert "Explorer allocation (10 of 10 units)" in result.line("a").reason


def test_minimum_mix_share_of_the_order_holds() -> None:
    asked = problem(
        item("a", mean=10),
        item("b", mean=1, line="Bronco"),
        mix=(MixShare("Bronco", min_share=0.4),),
    )
    result = solve(asked)
    assert units_of(result, "Bronco", asked) >= 0.4 * result.totals.units
    assert result.line("b").quantity > result.line("b").target.gap
    assert "mix_min:0" in result.line("b").bound_by
    assert "Bronco's minimum share of the order (40%)" in result.line("b").reason


def test_maximum_mix_share_of_the_stock_after_the_order_holds() -> None:
    asked = problem(
        item("a", mean=10, on_hand=6),
        item("b", mean=4, line="Bronco", on_hand=10),
        mix=(MixShare("Explorer", max_share=0.6, basis="stock"),),
    )
    result = solve(asked)
    stock = {line.item_id: line.stock_after for line in result.lines}
    assert stock["a"] <= 0.6 * (stock["a"] + stock["b"])
    assert "mix_max:0" in result.line("a").bound_by


def test_minimum_days_of_supply_holds_per_item() -> None:
    asked = problem(item("a", mean=7, on_hand=2), item("b", mean=0.7, min_days_of_supply=60), min_days_of_supply=45)
    result = solve(asked)
    a, b = result.line("a"), result.line("b")
    assert a.days_of_supply_after >= 45
    assert b.days_of_supply_after >= 60
    assert "min_days_of_supply" in a.bound_by
    assert "minimum of 45 days of supply" in a.reason


def test_orders_come_in_whole_packs() -> None:
    result = solve(problem(item("a", mean=5, pack=4), item("b", mean=3, pack=6, min_units=7)))
    a, b = result.line("a"), result.line("b")
    assert a.quantity % 4 == 0 and a.quantity == 4 * a.packs
    assert b.quantity % 6 == 0 and b.quantity >= 7
    assert a.bound_by in {("pack",), ()}
    assert "packs of 4" in a.reason


def test_all_constraints_hold_together() -> None:
    items = [item(f"e{k}", mean=2 + k, pack=1 + k % 3, on_hand=k, min_units=k % 2, max_units=12) for k in range(6)] + [
        item(f"b{k}", line="Bronco", cost=45_000, price=52_000, mean=1 + k, space=1.2) for k in range(4)
    ]
    asked = problem(
        *items,
        budget=1_800_000,
        lot_space=60,
        allocation={"Bronco": 20},
        mix=(MixShare("Bronco", min_share=0.2, max_share=0.5),),
        min_days_of_supply=10,
    )
    result = solve(asked)
    assert result.status == "optimal"
    assert result.totals.cost <= 1_800_000
    bronco = units_of(result, "Bronco", asked)
    assert bronco <= 20
    assert 0.2 * result.totals.units <= bronco <= 0.5 * result.totals.units
    for spec, line in zip(asked.items, result.lines, strict=True):
        assert line.quantity % spec.pack == 0
        assert spec.min_units <= line.quantity <= 12
        assert math.isinf(line.days_of_supply_after) or line.days_of_supply_after >= 10
