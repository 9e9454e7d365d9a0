"""Replenishment policies: the weekly stock accounting and the order-up-to targets of the backtest policies."""

from __future__ import annotations

import math

import numpy as np
import pytest

from opsdesk.planner.optimisation import DemandForecast, PlanItem, Weights, demand_curve, target_stock
from opsdesk.planner.optimisation.policy import (
    Outcome,
    forecast_target,
    forecast_targets,
    moving_average_target,
    pooled,
    realised_errors,
    seasonal_naive_target,
    simulate,
    with_residuals,
)


def test_constant_demand_settles_at_the_safety_stock_with_every_unit_served() -> None:
    # Demand 10 a week, lead time 2: the protection period is 3 weeks, so S = 30 + 5 leaves 5 on hand each week.
    outcome = simulate(lambda t: 35.0, [10.0] * 20, lead_time=2, on_hand=35.0, measure_from=4)
    assert outcome.fill_rate == 1.0
    assert outcome.on_hand.tolist() == [5.0] * 16
    assert outcome.avg_inventory == 5.0
    assert outcome.ordered.tolist() == [10.0] * 16


def test_orders_arrive_after_the_lead_time_and_not_before() -> None:
    orders = {0: 5.0}
    outcome = simulate(lambda t: orders.get(t, 0.0), [0.0] * 6, lead_time=3)
    assert outcome.ordered.tolist() == [5.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert outcome.on_hand.tolist() == [0.0, 0.0, 0.0, 5.0, 5.0, 5.0]


def test_zero_lead_time_puts_the_order_on_the_shelf_before_the_weeks_demand() -> None:
    outcome = simulate(lambda t: 8.0, [6.0, 6.0, 6.0], lead_time=0)
    assert outcome.served.tolist() == [6.0, 6.0, 6.0]
    assert outcome.on_hand.tolist() == [2.0, 2.0, 2.0]


def test_unserved_demand_is_lost_not_backordered() -> None:
    # 15 on hand and nothing ordered for two weeks: 5 units are lost in the second; when ordering resumes with
    # lead time 0 and S = 10, the order is 10 (not 10 plus the 5 lost units).
    outcome = simulate(lambda t: 0.0 if t < 2 else 10.0, [10.0, 10.0, 10.0, 10.0], lead_time=0, on_hand=15.0)
    assert outcome.served.tolist() == [10.0, 5.0, 10.0, 10.0]
    assert outcome.lost == 5.0
    assert outcome.ordered.tolist() == [0.0, 0.0, 10.0, 10.0]
    assert outcome.fill_rate == pytest.approx(35 / 40)
    assert (outcome.on_hand >= 0).all()


def test_orders_count_stock_on_order_and_are_whole_units() -> None:
    outcome = simulate(lambda t: 12.3, [4.0] * 8, lead_time=2, on_hand=0.0)
    assert outcome.ordered[0] == 13.0  # rounded up to a whole unit
    assert outcome.ordered[1] == 0.0  # 13 already on order
    assert all(float(q).is_integer() for q in outcome.ordered)
    fractional = simulate(lambda t: 12.3, [4.0] * 8, lead_time=2, whole_units=False)
    assert fractional.ordered[0] == pytest.approx(12.3)


def test_a_negative_lead_time_is_refused() -> None:
    with pytest.raises(ValueError, match="lead time"):
        simulate(lambda t: 1.0, [1.0], lead_time=-1)


def test_pooled_fill_rate_weighs_items_by_demand_and_inventory_adds_up() -> None:
    big = Outcome(np.array([90.0, 90.0]), np.array([90.0, 90.0]), np.array([4.0, 6.0]), np.zeros(2))
    small = Outcome(np.array([10.0, 10.0]), np.array([0.0, 0.0]), np.array([1.0, 1.0]), np.zeros(2))
    fill, inventory = pooled([big, small])
    assert fill == pytest.approx(0.9)
    assert inventory == pytest.approx(6.0)
    assert pooled([]) == (1.0, 0.0)


def test_moving_average_target_is_mean_over_protection_plus_z_sigma_root_p() -> None:
    history = np.array([100.0, 2.0, 4.0, 6.0, 8.0])  # the window of 4 ignores the first week
    expected = 5.0 * 3 + 1.5 * math.sqrt(5.0) * math.sqrt(3)
    assert moving_average_target(history, window=4, protection=3, z=1.5) == pytest.approx(expected)
    assert moving_average_target(np.zeros(0), window=4, protection=3, z=1.5) == 0.0


def test_seasonal_naive_target_uses_the_same_weeks_a_season_ago() -> None:
    # Season 4: weeks 0..3 then 4..7 are the same but one higher, so the differences are all 1 (no spread).
    history = np.array([1.0, 2.0, 3.0, 4.0, 2.0, 3.0, 4.0, 5.0])
    assert seasonal_naive_target(history, season=4, protection=2, z=2.0) == pytest.approx(2.0 + 3.0)
    assert seasonal_naive_target(history, season=4, protection=6, z=0.0) == pytest.approx(14.0 + 2.0 + 3.0)
    uneven = np.array([1.0, 2.0, 3.0, 4.0, 1.0, 4.0, 3.0, 6.0])  # differences 0, 2, 0, 2: sigma 1
    assert seasonal_naive_target(uneven, season=4, protection=1, z=1.0) == pytest.approx(1.0 + 1.0)


def test_seasonal_naive_without_a_season_of_history_falls_back_to_the_average() -> None:
    assert seasonal_naive_target(np.array([3.0, 5.0]), season=52, protection=2, z=0.0) == pytest.approx(8.0)


def _item(forecast: DemandForecast, lead: float = 2.0) -> PlanItem:
    return PlanItem(
        id="store-1",
        line="retail",
        unit_cost=750.0,
        unit_price=1000.0,
        forecast=forecast,
        lead_time_weeks=lead,
    )


def test_forecast_target_rises_with_the_service_level_and_the_forecasts_error() -> None:
    mean = [100.0] * 6
    narrow = _item(DemandForecast.of(mean, lo80=[90.0] * 6, hi80=[110.0] * 6))
    wide = _item(DemandForecast.of(mean, lo80=[60.0] * 6, hi80=[140.0] * 6))
    levels = forecast_targets(narrow, [0.5, 0.8, 0.95])
    assert levels[0] == pytest.approx(300.0, abs=2.0)  # the median of 3 weeks of a symmetric forecast
    assert levels[0] < levels[1] < levels[2]
    assert forecast_target(wide, 0.95) > forecast_target(narrow, 0.95)
    assert forecast_target(narrow, 0.8) == levels[1]


def test_forecast_target_without_a_level_is_the_newsvendor_target() -> None:
    item = _item(DemandForecast.of([100.0] * 6, lo80=[90.0] * 6, hi80=[110.0] * 6))
    expected = target_stock(item, demand_curve(item), Weights(), 0.25).target
    assert forecast_target(item) == float(expected)


def test_realised_errors_keep_only_weeks_with_a_forecast() -> None:
    errors = realised_errors(np.array([5.0, 7.0, 9.0]), np.array([np.nan, 6.0, 10.0]))
    assert errors.tolist() == [1.0, -1.0]


def test_the_forecast_carries_its_own_errors_once_there_are_enough() -> None:
    forecast = DemandForecast.of([10.0] * 4, lo80=[8.0] * 4, hi80=[12.0] * 4)
    assert with_residuals(forecast, np.ones(7)).residuals is None
    kept = with_residuals(forecast, np.arange(8.0))
    assert kept.residuals is not None and kept.residuals.tolist() == list(np.arange(8.0))
    assert demand_curve(_item(kept)).source == "backtest residuals"
    assert demand_curve(_item(forecast)).source == "forecast intervals"
