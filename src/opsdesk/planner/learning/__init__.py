"""Learning from outcomes: per-item bias corrections and the optimiser's weights, validated on held-out periods."""

from opsdesk.planner.learning.bias import BiasCorrection, learn_bias
from opsdesk.planner.learning.cycle import LearningCycle, run_learning_cycle
from opsdesk.planner.learning.feedback import FeedbackError, FeedbackPanel, FeedbackRow, build_panel, rows_from_records
from opsdesk.planner.learning.weights import PlannerWeights, newsvendor_quantity

__all__ = [
    "BiasCorrection",
    "FeedbackError",
    "FeedbackPanel",
    "FeedbackRow",
    "LearningCycle",
    "PlannerWeights",
    "build_panel",
    "learn_bias",
    "newsvendor_quantity",
    "rows_from_records",
    "run_learning_cycle",
]
