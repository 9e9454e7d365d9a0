"""The demo dealership: deterministic files in the documented formats, a season from the shipped profile, and a lot,
allocations, constraints and feedback that agree with the sales."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from opsdesk.planner.demo import COLUMNS, dealership_files, load_profile, simulate_dealership, write_dealership
from opsdesk.planner.demo.columns import CONSTRAINT_KEYS, CONSTRAINTS

Rows = list[dict[str, str]]
_VIN_VALUES = dict(zip("0123456789ABCDEFGHJKLMNPRSTUVWXYZ", "012345678912345678123457923456789", strict=True))
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return dealership_files()


def _rows(files: dict[str, bytes], name: str) -> Rows:
    return list(csv.DictReader(io.StringIO(files[name].decode("utf-8"))))


def _constraints(files: dict[str, bytes]) -> dict[str, object]:
    data = json.loads(files[CONSTRAINTS])
    assert isinstance(data, dict)
    return data


def _line_of(files: dict[str, bytes]) -> dict[str, str]:
    return {row["sku"]: row["model_line"] for row in _rows(files, "items.csv")}


def _weekly_totals(files: dict[str, bytes]) -> dict[date, int]:
    totals: dict[date, int] = defaultdict(int)
    for row in _rows(files, "sales.csv"):
        totals[date.fromisoformat(row["date"])] += int(row["quantity"])
    return dict(sorted(totals.items()))


def _valid_vin(vin: str) -> bool:
    if len(vin) != 17 or any(char not in _VIN_VALUES for char in vin):
        return False
    total = sum(int(_VIN_VALUES[char]) * weight for char, weight in zip(vin, _VIN_WEIGHTS, strict=True)) % 11
    return vin[8] == ("X" if total == 10 else str(total))


def test_the_same_seed_gives_byte_identical_files_and_another_seed_does_not(files: dict[str, bytes]) -> None:
    assert dealership_files() == files
    other = dealership_files(seed=12)
    assert other["sales.csv"] != files["sales.csv"]
    assert other["items.csv"] == files["items.csv"]  # the catalogue is fixed; only the weeks vary


def test_every_file_has_exactly_its_documented_columns(files: dict[str, bytes]) -> None:
    for name, columns in COLUMNS.items():
        header = files[name].decode("utf-8").splitlines()[0].split(",")
        assert tuple(header) == columns, name
        assert _rows(files, name), f"{name} has no rows"
    assert tuple(sorted(_constraints(files))) == tuple(sorted(CONSTRAINT_KEYS))


def test_the_dealership_has_forty_configurations_over_six_model_lines(files: dict[str, bytes]) -> None:
    items = _rows(files, "items.csv")
    assert len(items) == 40
    assert len({row["sku"] for row in items}) == 40
    assert {row["model_line"] for row in items} == {"Explorer", "Bronco", "F-150", "Escape", "Mustang", "Maverick"}
    for row in items:
        assert 0 < float(row["unit_cost"]) < float(row["unit_price"])
        assert float(row["lot_spaces"]) > 0 and int(row["pack_multiple"]) >= 1 and int(row["lead_time_weeks"]) >= 1


def test_sales_are_three_years_of_consecutive_weeks_starting_on_mondays(files: dict[str, bytes]) -> None:
    weeks = list(_weekly_totals(files))
    assert len(weeks) == 156
    assert all(week.weekday() == 0 for week in weeks)
    assert all(b - a == timedelta(weeks=1) for a, b in itertools.pairwise(weeks))
    snapshot = {row["snapshot_date"] for row in _rows(files, "inventory.csv")}
    assert snapshot == {(weeks[-1] + timedelta(weeks=1)).isoformat()}


def test_a_dealer_sells_ten_to_forty_vehicles_a_week(files: dict[str, bytes]) -> None:
    totals = list(_weekly_totals(files).values())
    assert 10 <= sum(totals) / len(totals) <= 40
    for row in _rows(files, "sales.csv"):
        quantity, gross = int(row["quantity"]), float(row["gross"])
        assert quantity >= 0 and float(row["price"]) > 0
        assert quantity > 0 or gross == 0


def test_expected_demand_follows_the_shipped_season() -> None:
    dealer = simulate_dealership()
    index = np.array(load_profile().seasonal_index)
    weekly = dealer.history.expected.sum(axis=0)
    months = np.array([(start + timedelta(days=3)).month for start in dealer.history.starts])
    by_month = [weekly[months == m].mean() for m in range(1, 13)]
    assert np.corrcoef(by_month, index)[0, 1] > 0.9


def test_sales_follow_the_shipped_season_when_noise_is_averaged_out() -> None:
    # A 20-a-week dealer's noise over 3 years is as large as the mild Norwegian season (+-8 %): the 3-year demo's
    # correlation is 0.4-0.8 depending on the seed. So the same generator runs 25 years (0.88-0.96 over seeds 1-8)
    # and the detrended month-of-year means of what sold are compared with the shipped index.
    totals = _weekly_totals(dealership_files(years=25))
    values = np.array(list(totals.values()), dtype=float)
    trend = np.convolve(values, np.ones(52) / 52, mode="same")
    months = np.array([(week + timedelta(days=3)).month for week in totals])
    inner = slice(26, len(values) - 26)
    ratio = values[inner] / trend[inner]
    by_month = [ratio[months[inner] == m].mean() for m in range(1, 13)]
    assert np.corrcoef(by_month, load_profile().seasonal_index)[0, 1] > 0.8


def test_rare_trims_sell_zero_to_two_a_week(files: dict[str, bytes]) -> None:
    weeks: dict[str, list[int]] = defaultdict(list)
    for row in _rows(files, "sales.csv"):
        weeks[row["sku"]].append(int(row["quantity"]))
    intermittent = [sku for sku, q in weeks.items() if len(q) == 156 and max(q) <= 2 and q.count(0) > len(q) / 2]
    assert len(intermittent) >= 3


def test_one_new_configuration_has_only_a_few_weeks_of_history(files: dict[str, bytes]) -> None:
    weeks: dict[str, int] = defaultdict(int)
    for row in _rows(files, "sales.csv"):
        weeks[row["sku"]] += 1
    short = [sku for sku, count in weeks.items() if count < 156]
    assert len(short) == 1 and 2 <= weeks[short[0]] <= 8


def test_every_unit_on_the_lot_has_a_unique_vin_and_a_known_configuration(files: dict[str, bytes]) -> None:
    units = _rows(files, "inventory.csv")
    skus = _line_of(files)
    assert len({row["unit_id"] for row in units}) == len(units)
    assert all(_valid_vin(row["unit_id"]) for row in units)
    assert all(row["sku"] in skus and float(row["cost"]) > 0 and int(row["days_on_lot"]) >= 0 for row in units)


def test_the_lot_fits_its_space_holds_weeks_not_months_of_sales_and_has_aged_units(files: dict[str, bytes]) -> None:
    spaces = {row["sku"]: float(row["lot_spaces"]) for row in _rows(files, "items.csv")}
    units = _rows(files, "inventory.csv")
    lot_space = _constraints(files)["lot_space"]
    assert isinstance(lot_space, int)
    assert sum(spaces[row["sku"]] for row in units) <= lot_space
    weekly = list(_weekly_totals(files).values())[-13:]
    assert 2 <= len(units) / (sum(weekly) / len(weekly)) <= 12
    assert any(int(row["days_on_lot"]) > 90 for row in units)


def test_gut_feeling_left_explorer_and_mustang_slow_and_maverick_short(files: dict[str, bytes]) -> None:
    line_of = _line_of(files)
    turns: dict[str, list[float]] = defaultdict(list)
    for row in _rows(files, "feedback.csv"):
        if row["days_to_turn"]:
            turns[line_of[row["sku"]]].append(float(row["days_to_turn"]))
    mean = {name: sum(values) / len(values) for name, values in turns.items()}
    assert mean["Mustang"] > mean["Escape"] and mean["Explorer"] > mean["Escape"]
    assert mean["Maverick"] < min(value for name, value in mean.items() if name != "Maverick")


def test_allocations_cover_every_model_line_for_the_next_eight_weeks(files: dict[str, bytes]) -> None:
    rows = _rows(files, "allocations.csv")
    snapshot = date.fromisoformat(_rows(files, "inventory.csv")[0]["snapshot_date"])
    periods = sorted({date.fromisoformat(row["period"]) for row in rows})
    assert periods == [snapshot + timedelta(weeks=k) for k in range(8)]
    assert {row["model_line"] for row in rows} == set(_line_of(files).values())
    assert all(int(row["max_units"]) > 0 for row in rows)
    first = {row["model_line"]: int(row["max_units"]) for row in rows if row["period"] == snapshot.isoformat()}
    assert _constraints(files)["allocation"] == first


def test_constraints_can_be_met_from_todays_lot(files: dict[str, bytes]) -> None:
    constraints = _constraints(files)
    mix = constraints["mix"]
    assert isinstance(mix, dict) and set(mix) == set(_line_of(files).values())
    assert sum(bound["min"] for bound in mix.values()) <= 1 <= sum(bound["max"] for bound in mix.values())
    line_of = _line_of(files)
    units = _rows(files, "inventory.csv")
    for name, bound in mix.items():
        share = sum(1 for row in units if line_of[row["sku"]] == name) / len(units)
        assert bound["min"] <= share <= bound["max"], name
    assert isinstance(constraints["budget"], float) and constraints["budget"] > 0
    assert constraints["min_days_of_supply"] == 21 and constraints["period_start"] == units[0]["snapshot_date"]


def test_feedback_is_a_year_per_configuration_and_agrees_with_sales(files: dict[str, bytes]) -> None:
    feedback = _rows(files, "feedback.csv")
    assert len({row["period_start"] for row in feedback}) == 52
    sales = {(row["date"], row["sku"]): row for row in _rows(files, "sales.csv")}
    for row in feedback:
        sale = sales[(row["period_start"], row["sku"])]
        assert row["sold"] == sale["quantity"] and row["gross_profit"] == sale["gross"]
        assert int(row["recommended"]) >= 0 and int(row["ordered"]) >= 0
        assert (row["days_to_turn"] == "") == (row["sold"] == "0")


def test_market_has_every_segment_in_both_regions_each_month(files: dict[str, bytes]) -> None:
    rows = _rows(files, "market.csv")
    months = {row["period"] for row in rows}
    assert len(months) >= 35 and all(month.endswith("-01") for month in months)
    assert len(rows) == len(months) * 6 * 2
    assert all(0 < float(row["share"]) < 1 and -1 < float(row["trend"]) < 1 for row in rows)


def test_units_on_order_arrive_after_the_snapshot(files: dict[str, bytes]) -> None:
    snapshot = _rows(files, "inventory.csv")[0]["snapshot_date"]
    rows = _rows(files, "on_order.csv")
    assert rows and all(row["expected_week"] >= snapshot and int(row["quantity"]) > 0 for row in rows)
    assert {row["sku"] for row in rows} <= set(_line_of(files))


def test_write_dealership_puts_every_file_in_the_directory(tmp_path: Path, files: dict[str, bytes]) -> None:
    paths = write_dealership(tmp_path / "demo")
    assert {path.name for path in paths} == set(files)
    assert all(path.read_bytes() == files[path.name] for path in paths)


def test_a_snapshot_that_is_not_a_monday_is_refused() -> None:
    with pytest.raises(ValueError, match="Monday"):
        dealership_files(snapshot=date(2026, 12, 1))
