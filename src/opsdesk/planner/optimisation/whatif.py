"""What-if: the same items re-solved under changed constraints or weights, compared line by line."""

from __future__ import annotations

from dataclasses import dataclass, replace

from opsdesk.planner.optimisation.problem import Constraints, PlanItem, Problem, Weights
from opsdesk.planner.optimisation.result import Recommendation
from opsdesk.planner.optimisation.solve import TIME_LIMIT_S, solve


@dataclass(frozen=True)
class LineChange:
    item_id: str
    before: int
    after: int

    @property
    def delta(self) -> int:
        return self.after - self.before


@dataclass(frozen=True)
class WhatIf:
    """The base run, the changed run and what moved between them."""

    base: Recommendation
    result: Recommendation
    changes: tuple[LineChange, ...]
    objective_delta: float
    summary: str


def what_if(
    problem: Problem,
    *,
    constraints: Constraints | None = None,
    weights: Weights | None = None,
    items: tuple[PlanItem, ...] | None = None,
    base: Recommendation | None = None,
    time_limit: float = TIME_LIMIT_S,
) -> WhatIf:
    """Re-solves with whatever is given replaced; `base` (the earlier run of `problem`) is solved when missing."""
    before = base if base is not None else solve(problem, time_limit=time_limit)
    changed = replace(
        problem,
        constraints=constraints if constraints is not None else problem.constraints,
        weights=weights if weights is not None else problem.weights,
        items=items if items is not None else problem.items,
    )
    after = solve(changed, time_limit=time_limit)
    old = before.quantities()
    moved = tuple(
        LineChange(line.item_id, old.get(line.item_id, 0), line.quantity)
        for line in after.lines
        if line.quantity != old.get(line.item_id, 0)
    )
    delta = after.totals.objective - before.totals.objective
    units = after.totals.units - before.totals.units
    currency = changed.constraints.currency
    summary = (
        f"{len(moved)} lines change, {units:+d} units in total, expected profit less costs {currency} {delta:+,.0f}"
        + (f"; {after.infeasibility.message}" if after.infeasibility else "")
    )
    return WhatIf(before, after, moved, delta, summary)
