"""Bias corrections trust an item's own data only as far as it goes; weights map to a service level."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest

from opsdesk.planner.learning import FeedbackRow, PlannerWeights, build_panel, learn_bias, newsvendor_quantity


def _rows(item: str, ratios: list[float], forecast: float = 10.0) -> list[FeedbackRow]:
    start = date(2025, 1, 6)
    return [
        FeedbackRow(item, start + timedelta(weeks=t), 0, 0, forecast * ratio, 0.0, forecast_mean=forecast)
        for t, ratio in enumerate(ratios)
    ]


def test_an_item_with_little_data_is_shrunk_toward_no_correction() -> None:
    rng = np.random.default_rng(0)
    long_biased = _rows("long", list(1.4 + 0.2 * rng.standard_normal(40)))
    short_biased = _rows("short", [1.4, 1.4])
    honest = [row for i in range(6) for row in _rows(f"honest-{i}", list(1.0 + 0.2 * rng.standard_normal(40)))]
    panel = build_panel([*long_biased, *short_biased, *honest])

    bias = learn_bias(panel, np.ones(len(panel.periods), dtype=bool))

    assert 1.3 < bias.factor("long") < 1.5
    assert 1.0 < bias.factor("short") < bias.factor("long")
    assert bias.credibility["short"] < bias.credibility["long"]
    assert bias.factor("never-seen") == 1.0


def test_without_spread_between_items_every_multiplier_is_one() -> None:
    rng = np.random.default_rng(1)
    rows = [row for i in range(8) for row in _rows(f"i{i}", list(1.0 + 0.3 * rng.standard_normal(30)))]
    panel = build_panel(rows)

    bias = learn_bias(panel, np.ones(len(panel.periods), dtype=bool))

    assert all(abs(m - 1.0) < 0.05 for m in bias.multipliers.values())


def test_only_the_chosen_periods_are_learned_from() -> None:
    rows = [*_rows("a", [2.0] * 10 + [1.0] * 10), *_rows("b", [1.0] * 20)]
    panel = build_panel(rows)
    early = np.arange(len(panel.periods)) < 10

    assert learn_bias(panel, ~early).factor("a") == pytest.approx(1.0)
    assert learn_bias(panel, early).factor("a") > 1.5


def test_plain_weights_give_the_newsvendor_critical_ratio() -> None:
    ratio = PlannerWeights().critical_ratio(np.array([2000.0]), np.array([300.0]))

    assert ratio[0] == pytest.approx(2000 / 2300)


def test_tilt_round_trips_and_moves_the_service_level_the_right_way() -> None:
    margin, holding = np.array([1000.0]), np.array([500.0])
    for tilt in (-1.5, -0.2, 0.0, 0.7):
        assert PlannerWeights.from_tilt(tilt).tilt() == pytest.approx(tilt)
    low = PlannerWeights.from_tilt(-1.0).critical_ratio(margin, holding)[0]
    high = PlannerWeights.from_tilt(1.0).critical_ratio(margin, holding)[0]
    assert low < PlannerWeights().critical_ratio(margin, holding)[0] < high
    assert PlannerWeights.from_tilt(1.0).shortage == pytest.approx(math.e - 1)
    assert PlannerWeights.from_tilt(-1.0).holding == pytest.approx(math.e)


def test_newsvendor_quantity_is_the_normal_quantile_and_never_negative() -> None:
    quantity = newsvendor_quantity(np.array([10.0, 1.0]), np.array([2.0, 5.0]), np.array([0.5, 0.05]))

    assert quantity[0] == pytest.approx(10.0)
    assert quantity[1] == 0.0
