"""Order recommendation as one mixed-integer program: targets from forecast error, constraints, reasons."""

from opsdesk.planner.optimisation.demand import DemandCurve, TargetStock, demand_curve, target_stock
from opsdesk.planner.optimisation.problem import Constraints, DemandForecast, MixShare, PlanItem, Problem, Weights
from opsdesk.planner.optimisation.result import (
    ConstraintChange,
    Infeasibility,
    Recommendation,
    RecommendationLine,
    Relaxation,
    Totals,
    Usage,
)
from opsdesk.planner.optimisation.solve import evaluate, solve
from opsdesk.planner.optimisation.whatif import LineChange, WhatIf, what_if

__all__ = [
    "ConstraintChange",
    "Constraints",
    "DemandCurve",
    "DemandForecast",
    "Infeasibility",
    "LineChange",
    "MixShare",
    "PlanItem",
    "Problem",
    "Recommendation",
    "RecommendationLine",
    "Relaxation",
    "TargetStock",
    "Totals",
    "Usage",
    "Weights",
    "WhatIf",
    "demand_curve",
    "evaluate",
    "solve",
    "target_stock",
    "what_if",
]
