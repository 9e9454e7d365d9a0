"""The demo files' names and columns, written once so the generators and the importer's tests agree.

items.csv        sku, model_line, trim, options (``; ``-separated), unit_cost, unit_price (money, 2 decimals),
                 lot_spaces (room one unit takes on the lot), pack_multiple (orders come in multiples of it),
                 lead_time_weeks (order to arrival)
inventory.csv    snapshot_date (ISO date), unit_id (a VIN-like 17-character id), sku, days_on_lot, cost (what this
                 unit cost the dealer) — one row per unit on the lot at the snapshot
sales.csv        date (the week's Monday, ISO), sku, quantity (units sold that week), price (average selling price
                 per unit; the offered price in a week without sales), gross (selling price minus unit cost, summed)
                 — one row per item and week from the item's first week on, weeks without sales included as 0
market.csv       period (first day of the month, ISO), segment, share (the segment's share of new registrations in
                 the region, 0..1), trend (the segment's registrations against the same month a year before,
                 0.04 = +4 %), region
allocations.csv  period (the week's Monday, ISO), model_line, max_units (what the maker will supply that week)
feedback.csv     sku, period_start (the week's Monday), recommended (what the earlier tool advised ordering),
                 ordered (what the manager ordered), sold, gross_profit (of that week's sales), days_to_turn
                 (average days on lot of the units sold that week; empty when none sold)
on_order.csv     sku, expected_week (Monday of the arrival week), quantity — units ordered, not yet on the lot
constraints.json budget, lot_space, min_days_of_supply, mix {model_line: {min, max}} (shares of units in stock after
                 the order), allocation {model_line: max_units} for the next order, currency, period_start
"""

from __future__ import annotations

from typing import Final

ITEMS: Final = "items.csv"
INVENTORY: Final = "inventory.csv"
SALES: Final = "sales.csv"
MARKET: Final = "market.csv"
ALLOCATIONS: Final = "allocations.csv"
FEEDBACK: Final = "feedback.csv"
ON_ORDER: Final = "on_order.csv"
CONSTRAINTS: Final = "constraints.json"

COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    ITEMS: (
        "sku",
        "model_line",
        "trim",
        "options",
        "unit_cost",
        "unit_price",
        "lot_spaces",
        "pack_multiple",
        "lead_time_weeks",
    ),
    INVENTORY: ("snapshot_date", "unit_id", "sku", "days_on_lot", "cost"),
    SALES: ("date", "sku", "quantity", "price", "gross"),
    MARKET: ("period", "segment", "share", "trend", "region"),
    ALLOCATIONS: ("period", "model_line", "max_units"),
    FEEDBACK: ("sku", "period_start", "recommended", "ordered", "sold", "gross_profit", "days_to_turn"),
    ON_ORDER: ("sku", "expected_week", "quantity"),
}

CONSTRAINT_KEYS: Final = ("budget", "lot_space", "min_days_of_supply", "mix", "allocation", "currency", "period_start")
