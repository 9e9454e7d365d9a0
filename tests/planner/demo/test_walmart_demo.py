"""The Walmart demo: store weeks become items.csv and sales.csv, dated by the Monday inside Walmart's week."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from opsdesk.planner.demo import COLUMNS, walmart_files, write_walmart
from opsdesk.planner.demo.walmart import WalmartFormatError

_HEADER = "Store,Date,Weekly_Sales,Holiday_Flag,Temperature,Fuel_Price,CPI,Unemployment"
_SAMPLE = [
    "1,05-02-2010,1643690.9,0,42.31,2.572,211.0963582,8.106",
    "1,12-02-2010,1641957.44,1,38.51,2.548,211.2421698,8.106",
    "2,05-02-2010,2136989.46,0,40.19,2.572,210.7526053,8.324",
    "2,12-02-2010,2137809.5,1,38.49,2.548,210.8979935,8.324",
    "3,05-02-2010,461622.22,0,45.71,2.572,214.4248812,7.368",
    "3,12-02-2010,420728.96,1,47.93,2.548,214.5747916,7.368",
]


def _panel(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "walmart.csv"
    path.write_text("\n".join([_HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def test_stores_become_items_grouped_by_size(tmp_path: Path) -> None:
    files = walmart_files(_panel(tmp_path, _SAMPLE))
    assert set(files) == {"items.csv", "sales.csv"}
    assert tuple(files["items.csv"].decode().splitlines()[0].split(",")) == COLUMNS["items.csv"]
    items = {row["sku"]: row for row in _rows(files["items.csv"])}
    assert {sku: row["model_line"] for sku, row in items.items()} == {
        "STORE-02": "large",
        "STORE-01": "medium",
        "STORE-03": "small",
    }
    assert all(float(row["unit_cost"]) < float(row["unit_price"]) == 1000.0 for row in items.values())


def test_weekly_sales_are_thousands_of_dollars_dated_by_the_monday_of_the_walmart_week(tmp_path: Path) -> None:
    sales = _rows(walmart_files(_panel(tmp_path, _SAMPLE))["sales.csv"])
    first = sales[0]
    # 05-02-2010 is the Friday that ends the week; its Monday is 1 February.
    assert (first["date"], first["sku"], first["quantity"]) == ("2010-02-01", "STORE-01", "1644")
    assert float(first["gross"]) == pytest.approx(1644 * 250)
    assert [row["date"] for row in sales if row["sku"] == "STORE-03"] == ["2010-02-01", "2010-02-08"]


def test_only_the_chosen_stores_are_kept(tmp_path: Path) -> None:
    files = walmart_files(_panel(tmp_path, _SAMPLE), stores=[3])
    assert {row["sku"] for row in _rows(files["sales.csv"])} == {"STORE-03"}


def test_a_date_that_is_not_day_month_year_names_its_row(tmp_path: Path) -> None:
    bad = [*_SAMPLE[:2], "2,2010-02-05,2136989.46,0,40.19,2.572,210.7526053,8.324"]
    with pytest.raises(WalmartFormatError, match="row 4"):
        walmart_files(_panel(tmp_path, bad))


def test_a_date_that_is_not_a_friday_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WalmartFormatError, match="not a Friday"):
        walmart_files(_panel(tmp_path, ["1,06-02-2010,1643690.9,0,42.31,2.572,211.0963582,8.106"]))


def test_a_store_week_given_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WalmartFormatError, match="twice"):
        walmart_files(_panel(tmp_path, [_SAMPLE[0], _SAMPLE[0]]))


def test_an_empty_panel_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WalmartFormatError, match="no store weeks"):
        walmart_files(_panel(tmp_path, []))


def test_write_walmart_puts_both_files_in_the_directory(tmp_path: Path) -> None:
    paths = write_walmart(_panel(tmp_path, _SAMPLE), tmp_path / "out")
    assert [path.name for path in paths] == ["items.csv", "sales.csv"]


def test_the_module_command_writes_both_demos(tmp_path: Path) -> None:
    from opsdesk.planner.demo.__main__ import main

    written = main([str(tmp_path / "out"), "--walmart", str(_panel(tmp_path, _SAMPLE))])
    assert {path.parent.name for path in written} == {"dealership", "walmart"}
    assert (tmp_path / "out" / "dealership" / "constraints.json").exists()
