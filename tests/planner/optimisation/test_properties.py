"""Property: on random small problems every answer keeps every constraint, or explains a relaxation that works."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsdesk.planner.optimisation import MixShare, PlanItem, Problem, Recommendation, solve
from opsdesk.planner.optimisation.demand import demand_curve
from tests.planner.optimisation.helpers import item, problem


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    count = draw(st.integers(2, 5))
    items = []
    for k in range(count):
        low = draw(st.integers(0, 4))
        items.append(
            item(
                f"i{k}",
                line=draw(st.sampled_from(["Explorer", "Bronco"])),
                cost=draw(st.sampled_from([20_000, 30_000, 45_000])),
                price=draw(st.sampled_from([24_000, 36_000, 52_000])),
                mean=draw(st.sampled_from([0.05, 0.5, 2.0, 6.0])),
                on_hand=draw(st.integers(0, 8)),
                pack=draw(st.integers(1, 3)),
                min_units=low,
                max_units=draw(st.one_of(st.none(), st.integers(low, low + 10))),
                space=draw(st.sampled_from([1.0, 1.5])),
            )
        )
    mix = draw(st.sampled_from([(), (MixShare("Bronco", min_share=0.2),), (MixShare("Explorer", max_share=0.7),)]))
    return problem(
        *items,
        budget=draw(st.one_of(st.none(), st.sampled_from([100_000.0, 400_000.0, 1_000_000.0]))),
        lot_space=draw(st.one_of(st.none(), st.sampled_from([10.0, 30.0, 80.0]))),
        allocation=draw(st.sampled_from([{}, {"Explorer": 6}, {"Bronco": 3}])),
        mix=mix,
        min_days_of_supply=draw(st.sampled_from([0.0, 7.0, 21.0])),
    )


def _violations(asked: Problem, result: Recommendation) -> list[str]:
    rules, bad = asked.constraints, []
    q = result.quantities()
    items: dict[str, PlanItem] = {i.id: i for i in asked.items}
    if rules.budget is not None and sum(items[k].unit_cost * v for k, v in q.items()) > rules.budget + 1e-6:
        bad.append("budget")
    if rules.lot_space is not None:
        arriving = {i.id: max(0.0, i.on_hand + i.on_order - demand_curve(i).lead_time_mean) for i in asked.items}
        if sum(items[k].space * (arriving[k] + v) for k, v in q.items()) > rules.lot_space + 1e-6:
            bad.append("lot_space")
    for line, limit in rules.allocation.items():
        if sum(v for k, v in q.items() if items[k].line == line) > limit:
            bad.append("allocation")
    total = sum(q.values())
    for share in rules.mix:
        mine = sum(v for k, v in q.items() if items[k].line == share.line)
        if mine < share.min_share * total - 1e-6 or mine > share.max_share * total + 1e-6:
            bad.append("mix")
    for row in result.lines:
        spec = items[row.item_id]
        if row.quantity % spec.pack or row.quantity < spec.min_units:
            bad.append(f"units:{spec.id}")
        if spec.max_units is not None and row.quantity > spec.max_units:
            bad.append(f"max:{spec.id}")
        if not math.isinf(row.days_of_supply_after) and row.days_of_supply_after < rules.min_days_of_supply - 1e-6:
            bad.append(f"days:{spec.id}")
    return bad


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_every_answer_keeps_every_constraint_or_explains_a_relaxation_that_works(asked: Problem) -> None:
    result = solve(asked)
    assert len(result.lines) == len(asked.items)
    if result.status == "optimal":
        assert _violations(asked, result) == []
        return
    assert result.infeasibility is not None
    assert result.infeasibility.conflicting
    for option in result.infeasibility.relaxations:
        relaxed = solve(option.problem)
        assert relaxed.status == "optimal"
        assert _violations(option.problem, relaxed) == []
