from __future__ import annotations

import numpy as np
import pytest

from opsdesk.planner.forecasting.metrics import mase, smape


def test_smape_is_the_m4_percent_definition() -> None:
    # 200 * |100 - 50| / (100 + 50) = 66.67, not half of it
    assert smape(np.array([100.0]), np.array([50.0])) == pytest.approx(66.6667, abs=1e-3)
    assert smape(np.array([0.0, 10.0]), np.array([0.0, 10.0])) == 0.0


def test_mase_scales_by_the_in_sample_seasonal_naive_error() -> None:
    history = np.array([1.0, 2, 3, 4, 5, 6])
    assert mase(np.array([8.0]), np.array([7.0]), history, m=1) == pytest.approx(1.0)
    assert mase(np.array([8.0]), np.array([7.0]), history, m=2) == pytest.approx(0.5)


def test_mase_of_a_constant_history_does_not_divide_by_zero() -> None:
    assert np.isfinite(mase(np.array([3.0]), np.array([2.0]), np.full(5, 2.0), m=1))
