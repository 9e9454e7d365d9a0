"""What a recommendation run answers: one line per item with its reason, totals, and any conflict explained."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from opsdesk.planner.optimisation.demand import TargetStock
from opsdesk.planner.optimisation.problem import Problem

Status = Literal["optimal", "feasible", "infeasible"]


@dataclass(frozen=True)
class RecommendationLine:
    """One item's order, the target it serves and the plain-words reason for the number."""

    item_id: str
    quantity: int
    packs: int
    target: TargetStock
    stock_after: int
    days_of_supply_after: float
    expected_extra_sales: float
    expected_gross_profit: float
    cost: float
    bound_by: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Usage:
    """How much of a shared limit the plan uses; `binding` when no further pack of any item fits."""

    constraint: str
    used: float
    limit: float
    binding: bool


@dataclass(frozen=True)
class ConstraintChange:
    """One relaxed limit: its name, old and new value, and the sentence that says it."""

    constraint: str
    before: float
    after: float
    text: str


@dataclass(frozen=True)
class Relaxation:
    """A set of changes that together make the constraints feasible; `size` is the summed relative change."""

    changes: tuple[ConstraintChange, ...]
    size: float
    problem: Problem = field(repr=False)

    @property
    def text(self) -> str:
        return "; ".join(change.text for change in self.changes)


@dataclass(frozen=True)
class Infeasibility:
    """Why no order satisfies every constraint, and the smallest relaxations that would (each enough alone)."""

    conflicting: tuple[str, ...]
    relaxations: tuple[Relaxation, ...]
    message: str


@dataclass(frozen=True)
class SolveStats:
    variables: int
    integer_variables: int
    constraints: int
    seconds: float
    message: str


@dataclass(frozen=True)
class Totals:
    units: int
    cost: float
    space: float
    expected_gross_profit: float
    holding_cost: float
    shortage_cost: float
    objective: float


@dataclass(frozen=True)
class Recommendation:
    """The plan. When the constraints conflict, `status` is "infeasible", `infeasibility` explains it, and the
    lines are the plan under its smallest relaxation (never an empty list)."""

    status: Status
    lines: tuple[RecommendationLine, ...]
    totals: Totals
    usage: tuple[Usage, ...]
    infeasibility: Infeasibility | None
    stats: SolveStats

    def line(self, item_id: str) -> RecommendationLine:
        return next(line for line in self.lines if line.item_id == item_id)

    def quantities(self) -> dict[str, int]:
        return {line.item_id: line.quantity for line in self.lines}
