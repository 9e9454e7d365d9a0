from __future__ import annotations

import numpy as np

from opsdesk.planner.forecasting.patterns import Pattern, adi_cv2, classify


def test_steady_demand_every_period_is_smooth() -> None:
    assert classify(np.array([10.0, 11, 9, 10, 12, 10, 11, 9, 10, 10, 11, 12])) is Pattern.SMOOTH


def test_demand_every_period_with_wild_sizes_is_erratic() -> None:
    assert classify(np.array([1.0, 40, 2, 35, 1, 50, 3, 1, 45, 2, 38, 1])) is Pattern.ERRATIC


def test_rare_demand_of_steady_size_is_intermittent() -> None:
    y = np.array([0.0, 0, 5, 0, 0, 0, 5, 0, 0, 6, 0, 0, 0, 5, 0, 0])
    assert classify(y) is Pattern.INTERMITTENT


def test_rare_demand_of_wild_size_is_lumpy() -> None:
    y = np.array([0.0, 0, 1, 0, 0, 0, 30, 0, 0, 2, 0, 0, 0, 45, 0, 0])
    assert classify(y) is Pattern.LUMPY


def test_too_few_points_or_no_demand_is_short() -> None:
    assert classify(np.array([4.0, 5, 6])) is Pattern.SHORT
    assert classify(np.zeros(30)) is Pattern.SHORT
    assert classify(np.ones(30), min_points=40) is Pattern.SHORT


def test_adi_counts_periods_per_demand_and_cv2_the_size_spread() -> None:
    adi, cv2 = adi_cv2(np.array([0.0, 2, 0, 2]))
    assert adi == 2.0
    assert cv2 == 0.0
