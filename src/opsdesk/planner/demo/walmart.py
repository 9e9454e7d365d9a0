"""The second demo: Walmart's weekly store sales (45 stores, 2010-2012) as the planner's items.csv and sales.csv.

Stores are the items (``STORE-01`` ...), grouped by size into the model-line level (``large``, ``medium``, ``small``
by mean weekly sales, thirds) so the hierarchy item -> group -> total exists. The data has dollars, not units, so
one unit here is one thousand dollars of weekly sales: ``quantity`` is the week's sales in thousands of US dollars,
rounded to a whole thousand. The panel has no costs; ``unit_cost`` assumes a 25 % gross margin (an assumption, not
data), so ``gross`` = quantity x 250. Walmart's weeks end on a Friday (its ``Date``, written dd-mm-YYYY); each row
is dated by the Monday inside that week (Friday - 4 days), the planner's week start.

The file is read from the caller's path (../shared/data/retail/walmart_store_sales.csv) and never shipped.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from opsdesk.planner.demo.columns import COLUMNS, ITEMS, SALES
from opsdesk.planner.demo.dealership import csv_bytes, write_files

UNIT = "thousand USD of weekly sales"
UNIT_PRICE = 1000.0
UNIT_COST = 750.0  # an assumed 25 % gross margin: the panel has no costs
SIZE_GROUPS = ("large", "medium", "small")


class WalmartFormatError(ValueError):
    """The file is not the Walmart weekly store sales panel as published (names the row and the problem)."""


@dataclass(frozen=True, slots=True)
class StoreWeek:
    """One store's sales in one week, in dollars."""

    store: int
    week: date  # the Monday inside Walmart's Saturday-to-Friday week
    dollars: float


def _parse_row(row: dict[str, str], number: int) -> StoreWeek:
    try:
        friday = datetime.strptime(row["Date"].strip(), "%d-%m-%Y").date()
        store, dollars = int(row["Store"]), float(row["Weekly_Sales"])
    except (KeyError, ValueError) as exc:
        raise WalmartFormatError(f"row {number}: {exc}") from exc
    if friday.weekday() != 4:
        raise WalmartFormatError(f"row {number}: {friday.isoformat()} is not a Friday (a Walmart week's end)")
    if dollars < 0:
        raise WalmartFormatError(f"row {number}: negative weekly sales {dollars}")
    return StoreWeek(store, friday - timedelta(days=4), dollars)


def read_walmart(path: Path, stores: Iterable[int] | None = None) -> list[StoreWeek]:
    """The panel's store-weeks, sorted by store and week; ``stores`` keeps only those stores."""
    wanted = set(stores) if stores is not None else None
    seen: set[tuple[int, date]] = set()
    weeks: list[StoreWeek] = []
    with path.open(newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            week = _parse_row(row, number)
            if wanted is not None and week.store not in wanted:
                continue
            if (week.store, week.week) in seen:
                raise WalmartFormatError(f"row {number}: store {week.store} has the week {week.week} twice")
            seen.add((week.store, week.week))
            weeks.append(week)
    if not weeks:
        raise WalmartFormatError("no store weeks found")
    return sorted(weeks, key=lambda item: (item.store, item.week))


def sku(store: int) -> str:
    """The item id of a store."""
    return f"STORE-{store:02d}"


def size_groups(weeks: list[StoreWeek]) -> dict[int, str]:
    """Each store's size group: thirds of the stores by mean weekly sales, biggest first."""
    totals: dict[int, list[float]] = {}
    for week in weeks:
        totals.setdefault(week.store, []).append(week.dollars)
    ranked = sorted(totals, key=lambda store: (-sum(totals[store]) / len(totals[store]), store))
    return {store: SIZE_GROUPS[min(2, rank * 3 // len(ranked))] for rank, store in enumerate(ranked)}


def walmart_files(path: Path, *, stores: Iterable[int] | None = None) -> dict[str, bytes]:
    """items.csv and sales.csv for the Walmart panel at ``path`` (quantities in thousands of dollars)."""
    weeks = read_walmart(path, stores)
    groups = size_groups(weeks)
    items = [
        (sku(store), groups[store], f"Store {store}", "", f"{UNIT_COST:.2f}", f"{UNIT_PRICE:.2f}", 1, 1, 1)
        for store in sorted(groups)
    ]
    sales = []
    for week in weeks:
        quantity = round(week.dollars / UNIT_PRICE)
        margin = quantity * (UNIT_PRICE - UNIT_COST)
        sales.append((week.week.isoformat(), sku(week.store), quantity, f"{UNIT_PRICE:.2f}", f"{margin:.2f}"))
    return {ITEMS: csv_bytes(COLUMNS[ITEMS], items), SALES: csv_bytes(COLUMNS[SALES], sales)}


def write_walmart(path: Path, directory: Path, *, stores: Iterable[int] | None = None) -> list[Path]:
    """Writes the Walmart demo's items.csv and sales.csv into ``directory``."""
    return write_files(directory, walmart_files(path, stores=stores))
