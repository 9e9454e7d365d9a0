"""Solving the order recommendation with HiGHS, and scoring any plan by the same expected-profit measure."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from opsdesk.planner.optimisation.model import IntArray, Prepared, build_plan, prepare, run_milp
from opsdesk.planner.optimisation.problem import Problem
from opsdesk.planner.optimisation.reasons import PlanCheck, bound_by, reason, usage
from opsdesk.planner.optimisation.relax import explain
from opsdesk.planner.optimisation.result import Recommendation, RecommendationLine, SolveStats, Totals

TIME_LIMIT_S = 60.0


def _bounds_conflict(prep: Prepared) -> bool:
    return bool(np.any(prep.min_packs() > prep.max_packs()))


def solve(problem: Problem, *, time_limit: float = TIME_LIMIT_S) -> Recommendation:
    """One mixed-integer program over every item; conflicting constraints give an explanation and a relaxed plan."""
    return _solve(problem, time_limit, relaxed=False)


def _solve(problem: Problem, time_limit: float, *, relaxed: bool) -> Recommendation:
    started = time.perf_counter()
    prep = prepare(problem)
    model = build_plan(prep)
    stats = SolveStats(len(model.c), sum(model.integer), len(model.rows), 0.0, "")
    result = None if _bounds_conflict(prep) else run_milp(model, time_limit)
    if result is not None and result.x is not None and result.status in (0, 1):
        packs = np.rint(result.x[: prep.size]).astype(np.int64)
        stats = replace(stats, seconds=time.perf_counter() - started, message=str(result.message))
        return assemble(prep, packs, "optimal" if result.status == 0 else "feasible", stats)
    if relaxed:
        # The relaxed problem is built so the elastic plan satisfies it; reaching here is a bug, not a user error.
        raise RuntimeError(f"a relaxed problem is still infeasible: {result.message if result else 'pack bounds'}")
    infeasibility = explain(prep, time_limit=time_limit)
    plan = _solve(infeasibility.relaxations[0].problem, time_limit, relaxed=True)
    lines = tuple(
        replace(line, reason=f"{line.reason} (Planned with: {infeasibility.relaxations[0].text}.)")
        for line in plan.lines
    )
    stats = replace(plan.stats, seconds=time.perf_counter() - started, message=infeasibility.message)
    return replace(plan, status="infeasible", lines=lines, infeasibility=infeasibility, stats=stats)


def assemble(prep: Prepared, packs: IntArray, status: str, stats: SolveStats) -> Recommendation:
    """Lines with reasons, totals and limit use for a plan given in packs per item."""
    check = PlanCheck.of(prep, packs)
    quantities = packs * prep.pack
    lines = []
    for i, item in enumerate(prep.problem.items):
        quantity = int(quantities[i])
        stock_after = int(prep.position[i]) + quantity
        daily = prep.daily[i]
        days = stock_after / daily if daily > 0 else math.inf
        names, sentence = bound_by(check, i, quantity)
        gain = prep.curves[i].expected_sales(np.array([prep.position[i], stock_after], dtype=np.float64))
        lines.append(
            RecommendationLine(
                item_id=item.id,
                quantity=quantity,
                packs=int(packs[i]),
                target=prep.targets[i],
                stock_after=stock_after,
                days_of_supply_after=days,
                expected_extra_sales=float(gain[1] - gain[0]),
                expected_gross_profit=float(item.margin * gain[1]),
                cost=item.unit_cost * quantity,
                bound_by=names,
                reason=reason(check, i, quantity, days, sentence),
            )
        )
    totals = _totals(prep, quantities)
    return Recommendation(
        status=status,  # type: ignore[arg-type]
        lines=tuple(lines),
        totals=totals,
        usage=usage(check),
        infeasibility=None,
        stats=stats,
    )


def _totals(prep: Prepared, quantities: IntArray) -> Totals:
    stock = prep.position + quantities
    sales = np.array([curve.expected_sales(s)[0] for curve, s in zip(prep.curves, stock, strict=True)])
    demand = np.array([curve.mean for curve in prep.curves])
    margin = np.array([item.margin for item in prep.problem.items])
    penalty = np.array([item.shortage_cost for item in prep.problem.items])
    weights = prep.problem.weights
    profit = float(margin @ sales)
    holding = float(prep.holding @ (stock - sales))
    shortage = float(penalty @ (demand - sales))
    return Totals(
        units=int(quantities.sum()),
        cost=float(prep.cost @ quantities),
        space=float(prep.space @ quantities),
        expected_gross_profit=profit,
        holding_cost=holding,
        shortage_cost=shortage,
        objective=weights.margin * profit - weights.holding * holding - weights.shortage * shortage,
    )


def evaluate(problem: Problem, quantities: Mapping[str, int]) -> Totals:
    """Any plan (a baseline's, a user's edit) scored by the same expected-profit measure as the optimiser's."""
    prep = prepare(problem)
    return _totals(prep, np.array([int(quantities.get(item.id, 0)) for item in problem.items], dtype=np.int64))


def prepared_totals(prep: Prepared, quantities: IntArray) -> Totals:
    """Totals for a plan when the problem is already prepared (benches score several plans on one problem)."""
    return _totals(prep, quantities)
