"""Dealer measures on small hand-computed examples."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from opsdesk.planner.reports.measures import (
    age_labels,
    aged_stock,
    allocation_use,
    days_of_supply,
    days_to_turn,
    latest_measures,
    measures_over_time,
    mix_gap,
    sales_velocity,
)

W1, W2, W3 = date(2025, 1, 6), date(2025, 1, 13), date(2025, 1, 20)


def test_days_of_supply_is_stock_over_the_daily_sales_rate() -> None:
    result = days_of_supply([14, 0, 5], [2.0, 1.0, 0.0])

    assert result[0] == 7.0
    assert result[1] == 0.0  # nothing on hand lasts no days
    assert math.isinf(result[2])  # stock that does not sell lasts for ever


def test_sales_velocity_is_sales_over_average_stock() -> None:
    result = sales_velocity([6, 3], [12, 0])

    assert result[0] == 0.5
    assert math.isnan(result[1])


def test_days_to_turn_is_the_average_age_of_sold_units() -> None:
    assert days_to_turn([10, 20, 60]) == 30.0
    assert math.isnan(days_to_turn([]))


def test_allocation_use_is_ordered_over_allocated() -> None:
    result = allocation_use([3, 5, 1], [4, 5, 0])

    assert result[0] == 0.75 and result[1] == 1.0 and math.isnan(result[2])


def test_mix_gap_compares_shares_and_units_with_the_target() -> None:
    gaps = {
        gap.key: gap for gap in mix_gap({"Bronco": 30, "Explorer": 10}, {"Bronco": 0.5, "Explorer": 0.3, "F-150": 0.2})
    }

    assert gaps["Bronco"].share == 0.75 and gaps["Bronco"].gap_share == pytest.approx(0.25)
    assert gaps["Bronco"].gap_units == pytest.approx(10.0)  # 30 on hand against 0.5 x 40 = 20
    assert gaps["Explorer"].gap_units == pytest.approx(-2.0)
    assert gaps["F-150"].units == 0 and gaps["F-150"].gap_units == pytest.approx(-8.0)


def test_aged_stock_buckets_include_their_upper_edge() -> None:
    assert age_labels() == ("0-30", "31-60", "61-90", "91+")
    assert aged_stock([0, 30, 31, 60, 61, 90, 91, 400]) == {"0-30": 2, "31-60": 2, "61-90": 2, "91+": 2}
    assert aged_stock(np.array([])) == {"0-30": 0, "31-60": 0, "61-90": 0, "91+": 0}


def _frames() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    sales = pd.DataFrame(
        {
            "item": ["a", "a", "a", "b", "b"],
            "period": [W1, W2, W3, W1, W2],
            "quantity": [7, 14, 0, 7, 7],
        }
    )
    stock = pd.DataFrame(
        {
            "item": ["a", "a", "a", "b", "b", "b"],
            "period": [W1, W2, W3, W1, W2, W3],
            "units": [14, 14, 21, 28, 14, 14],
        }
    )
    return sales, stock, {"a": "Bronco", "b": "Bronco"}


def test_measures_over_time_per_item() -> None:
    sales, stock, lines = _frames()

    table = measures_over_time(sales, stock, lines, trailing_periods=2)
    a = table[table["key"] == "a"].set_index("period")

    assert list(a["sold"]) == [7, 14, 0]
    # week 2: opening 14, closing 14 -> SVA 14 / 14; sales rate over weeks 1-2 = 10.5 / 7 a day -> 14 / 1.5 days
    assert a.loc[W2, "sva"] == 1.0
    assert a.loc[W2, "days_of_supply"] == pytest.approx(14 / 1.5)
    # week 3: average stock (14 + 21) / 2, nothing sold; rate over weeks 2-3 = 7 / 7 = 1 a day
    assert a.loc[W3, "sva"] == 0.0
    assert a.loc[W3, "days_of_supply"] == pytest.approx(21.0)
    assert a["days_to_turn"].isna().all()


def test_measures_over_time_per_model_line_add_up_items() -> None:
    sales, stock, lines = _frames()
    unit_sales = pd.DataFrame({"item": ["a", "b", "b"], "period": [W1, W1, W1], "days_on_lot": [10, 20, 60]})

    table = measures_over_time(sales, stock, lines, by="line", trailing_periods=1, unit_sales=unit_sales)
    line = table.set_index("period")

    assert list(table["key"].unique()) == ["Bronco"]
    assert list(line["sold"]) == [14, 21, 0]
    assert list(line["stock"]) == [42, 28, 35]
    assert line.loc[W1, "sva"] == pytest.approx(14 / 42)
    assert line.loc[W1, "days_of_supply"] == pytest.approx(42 / 2)
    assert line.loc[W1, "days_to_turn"] == pytest.approx(30.0)
    assert math.isnan(line.loc[W2, "days_to_turn"])


def test_an_item_without_a_model_line_is_refused() -> None:
    sales, stock, _ = _frames()
    with pytest.raises(ValueError, match="items without a model line: b"):
        measures_over_time(sales, stock, {"a": "Bronco"})


def test_latest_measures_take_each_keys_last_period() -> None:
    sales, stock, lines = _frames()

    latest = latest_measures(measures_over_time(sales, stock, lines, trailing_periods=2))

    assert [(m.key, m.period, m.stock) for m in latest] == [("a", W3, 21.0), ("b", W3, 14.0)]
    assert latest[0].days_of_supply == pytest.approx(21.0)
