"""Targets: order-up-to levels from the forecast's own error over lead time plus review period."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from opsdesk.planner.optimisation import DemandForecast, PlanItem, Weights, demand_curve, target_stock
from tests.planner.optimisation.helpers import flat, item


def _target(plan_item: PlanItem, weights: Weights | None = None, bias: float = 1.0) -> tuple[float, float, int]:
    chosen = weights or Weights()
    found = target_stock(plan_item, demand_curve(plan_item, bias), chosen, 0.25)
    return found.expected_demand, found.safety_stock, found.target


def test_target_is_expected_demand_over_lead_time_and_review_plus_safety_stock() -> None:
    car = item("xlt", mean=5, lead_time_weeks=3, review_weeks=1, on_hand=7, on_order=2)
    found = target_stock(car, demand_curve(car), Weights(), 0.25)
    assert found.protection_weeks == 4
    assert found.expected_demand == 20.0
    assert found.target == round(found.expected_demand + found.safety_stock)
    assert found.safety_stock > 0
    assert (found.on_hand, found.on_order, found.position) == (7, 2, 9)
    assert found.gap == found.target - 9


def test_wider_forecast_error_means_more_safety_stock() -> None:
    tight = item("a", mean=5)
    wide = replace(tight, forecast=flat(5, spread=0.9))
    assert _target(wide)[1] > _target(tight)[1] > 0


def test_backtest_residuals_give_the_spread_when_there_are_enough() -> None:
    errors = np.array([-3.0, 4.0, -1.0, 6.0, -2.0, 5.0, 0.0, -4.0, 7.0, -1.0, 3.0, -2.0])
    sized = replace(item("a"), forecast=DemandForecast.of([5.0] * 8, residuals=errors))
    small = replace(item("a"), forecast=DemandForecast.of([5.0] * 8, residuals=errors / 4))
    curve = demand_curve(sized)
    assert curve.source == "backtest residuals"
    assert _target(sized)[1] > _target(small)[1]


def test_without_any_error_given_poisson_spread_is_assumed_and_said() -> None:
    bare = replace(item("a"), forecast=DemandForecast.of([5.0] * 8))
    assert demand_curve(bare).source == "poisson (no forecast error given)"
    assert _target(bare)[2] > 20


def test_intermittent_item_gets_a_small_non_negative_target() -> None:
    # Mostly zero demand: a rate of 0.05 a week with an interval from 0 to 0.3.
    rare = replace(item("rare"), forecast=DemandForecast.of([0.05] * 8, lo80=[0.0] * 8, hi80=[0.3] * 8))
    expected, safety, target = _target(rare)
    assert expected == 0.2
    assert 0 <= target <= 2
    assert target - safety == pytest.approx(expected)


def test_zero_forecast_gives_zero_target() -> None:
    none = replace(item("none"), forecast=DemandForecast.of([0.0] * 8, lo80=[0.0] * 8, hi80=[0.0] * 8))
    assert _target(none)[2] == 0


def test_learned_bias_scales_the_expected_demand() -> None:
    car = item("a", mean=5)
    assert _target(car, bias=0.5)[0] == 10.0
    assert _target(car, bias=0.5)[2] < _target(car)[2]


def test_higher_margin_raises_the_service_level_and_the_target() -> None:
    thin = item("a", cost=30_000, price=30_300, mean=5)
    rich = item("a", cost=30_000, price=38_000, mean=5)
    thin_found = target_stock(thin, demand_curve(thin), Weights(), 0.25)
    rich_found = target_stock(rich, demand_curve(rich), Weights(), 0.25)
    assert rich_found.critical_ratio > thin_found.critical_ratio
    assert rich_found.target > thin_found.target


def test_targets_do_not_depend_on_other_items_or_their_order() -> None:
    first = demand_curve(item("a", mean=5))
    again = demand_curve(item("a", mean=5))
    assert np.array_equal(first.samples, again.samples)


def test_a_forecast_shorter_than_the_protection_period_repeats_its_last_week() -> None:
    short = replace(item("a", lead_time_weeks=10), forecast=flat(2, weeks=4))
    assert demand_curve(short).mean == 22.0
