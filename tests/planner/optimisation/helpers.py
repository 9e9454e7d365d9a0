"""Small problems for the optimisation tests: items with a flat weekly forecast and a ±40 % 80 % interval."""

from __future__ import annotations

from typing import Any

from opsdesk.planner.optimisation import Constraints, DemandForecast, PlanItem, Problem, Recommendation, Weights


def flat(mean: float, spread: float = 0.4, weeks: int = 8) -> DemandForecast:
    return DemandForecast.of(
        [mean] * weeks, lo80=[max(0.0, mean * (1 - spread))] * weeks, hi80=[mean * (1 + spread)] * weeks
    )


def item(
    item_id: str,
    *,
    line: str = "Explorer",
    cost: float = 30_000,
    price: float = 34_000,
    mean: float = 4.0,
    **terms: Any,
) -> PlanItem:
    terms.setdefault("lead_time_weeks", 3)
    return PlanItem(id=item_id, line=line, unit_cost=cost, unit_price=price, forecast=flat(mean), **terms)


def problem(*items: PlanItem, weights: Weights | None = None, **rules: Any) -> Problem:
    return Problem(items=items, constraints=Constraints(**rules), weights=weights or Weights())


def units_of(result: Recommendation, line: str, problem_: Problem) -> int:
    lines = {i.id: i.line for i in problem_.items}
    return sum(r.quantity for r in result.lines if lines[r.item_id] == line)
