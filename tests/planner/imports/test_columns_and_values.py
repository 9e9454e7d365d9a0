"""Headers find their fields however they are written, and cells read as the numbers people meant."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from opsdesk.planner.imports import values
from opsdesk.planner.imports.columns import map_columns
from opsdesk.planner.imports.dates import Cell


@pytest.mark.parametrize(
    ("kind", "header", "field"),
    [
        ("sales", "SKU", "item"),
        ("sales", "Config", "item"),
        ("sales", "Item Code", "item"),
        ("sales", "Qty", "quantity"),
        ("sales", "Units Sold", "quantity"),
        ("sales", "units_sold", "quantity"),
        ("sales", " UNITS-SOLD ", "quantity"),
        ("sales", "Sale Date", "date"),
        ("sales", "Week", "date"),
        ("sales", "Gross", "gross"),
        ("sales", "GP", "gross"),
        ("inventory", "VIN", "unit_id"),
        ("inventory", "Stock No", "unit_id"),
        ("inventory", "Stock #", "unit_id"),
        ("inventory", "Days in Stock", "days_on_lot"),
        ("inventory", "Age", "days_on_lot"),
        ("inventory", "Cost", "cost"),
        ("inventory", "Invoice", "cost"),
        ("items", "MSRP", "unit_price"),
        ("items", "Invoice", "unit_cost"),
        ("items", "Lead Time (weeks)", "lead_time_weeks"),
        ("feedback", "Days to Turn", "days_to_turn"),
        ("allocations", "Allocation", "max_units"),
    ],
)
def test_a_header_finds_its_field(kind: str, header: str, field: str) -> None:
    mapping = map_columns([header], kind)  # type: ignore[arg-type]

    assert mapping.headers == {field: header}
    assert mapping.unknown == []


def test_the_better_name_wins_wherever_it_stands_and_the_other_is_unknown() -> None:
    mapping = map_columns(["Stock No", "Model", "VIN", "Config"], "inventory")

    assert mapping.headers == {"unit_id": "VIN", "item": "Config"}
    assert mapping.unknown == ["Stock No", "Model"]


def test_the_callers_mapping_comes_first_and_can_set_a_column_aside() -> None:
    mapping = map_columns(
        ["Store", "Date", "Weekly_Sales", "Dept"], "sales", {"Store": "item", "weekly sales": "quantity", "Dept": ""}
    )

    assert mapping.headers == {"item": "Store", "date": "Date", "quantity": "Weekly_Sales"}
    assert mapping.unknown == [] and mapping.missing == []


def test_a_mapping_to_a_field_or_column_that_does_not_exist_is_reported() -> None:
    mapping = map_columns(["SKU", "Date", "Qty"], "sales", {"Qty": "units", "Region": "item"})

    assert mapping.unknown_overrides == ["Qty", "Region"]
    assert mapping.missing == ["quantity"]


def test_required_fields_no_header_gives_are_missing() -> None:
    assert map_columns(["Colour", "Date"], "sales").missing == ["item", "quantity"]


@pytest.mark.parametrize(
    ("cell", "number"),
    [
        ("1,234.50", "1234.50"),
        ("1.234,50", "1234.50"),
        ("$46,900", "46900"),
        ("NOK 412 000", "412000"),
        ("(250)", "-250"),
        ("3,5", "3.5"),
        (7, "7"),
        (2.5, "2.5"),
    ],
)
def test_numbers_are_read_as_written_in_shops_and_ledgers(cell: Cell, number: str) -> None:
    assert values.number(cell) == Decimal(number)


@pytest.mark.parametrize("cell", ["", "n/a", "call us", True, date(2025, 1, 1), "NaN", "Infinity"])
def test_what_is_not_a_number_says_so(cell: Cell) -> None:
    with pytest.raises(values.BadValue) as caught:
        values.number(cell)
    assert caught.value.code == "not_a_number"


def test_numbers_too_large_for_their_column_are_refused_not_stored_wrong() -> None:
    for cell in ("1e999999999", "100000000000", 2**40):
        with pytest.raises(values.BadValue) as caught:
            values.integer(cell) if isinstance(cell, int) else values.number(cell)
        assert caught.value.code == "too_large"


def test_quantities_and_counts_refuse_negatives_and_fractions() -> None:
    with pytest.raises(values.BadValue, match="negative") as negative:
        values.quantity("-1")
    with pytest.raises(values.BadValue) as fraction:
        values.integer("2.5")
    assert negative.value.code == "negative_quantity" and fraction.value.code == "not_a_whole_number"
    assert values.integer("3.0") == 3


def test_a_share_in_percent_is_a_fraction() -> None:
    assert values.share("12.5%") == (Decimal("0.125"), True)
    assert values.share("0.125") == (Decimal("0.125"), False)


def test_long_text_is_refused_not_cut() -> None:
    with pytest.raises(values.BadValue, match="at most 100"):
        values.text("X" * 101, 100)
    assert values.text(1001.0, 100) == "1001"
