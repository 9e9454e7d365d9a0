"""Synthetic feedback histories with a known truth, for the learning tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import numpy as np

from opsdesk.planner.learning import FeedbackRow

START = date(2025, 1, 6)  # a Monday
UNIT_MARGIN = 2000.0
UNIT_HOLDING = 300.0
Z80 = 1.2815515655446004


def history(
    *,
    items: int = 12,
    weeks: int = 60,
    seed: int = 7,
    forecast_share: Callable[[int, int], float] = lambda item, week: 1.0,
    spread: float = 0.3,
) -> list[FeedbackRow]:
    """Weekly demand ~ Normal(level, spread x level); the forecast was ``forecast_share(item, week)`` of the truth
    with an 80 % interval of the same shape, so a share of 1.0 is an honest forecast and 0.7 is 30 % low."""
    rng = np.random.default_rng(seed)
    rows: list[FeedbackRow] = []
    for item in range(items):
        level = 10.0 + 4.0 * item
        for week in range(weeks):
            sold = max(0.0, float(rng.normal(level, spread * level)))
            share = forecast_share(item, week)
            mean = level * share
            half = Z80 * spread * mean
            rows.append(
                FeedbackRow(
                    item=f"item-{item:02d}",
                    period=START + timedelta(weeks=week),
                    recommended=round(mean),
                    ordered=round(mean),
                    sold=sold,
                    gross_profit=sold * UNIT_MARGIN,
                    days_to_turn=30.0,
                    forecast_mean=mean,
                    forecast_low=mean - half,
                    forecast_high=mean + half,
                    interval_level=0.8,
                )
            )
    return rows
