"""What the parser tests on other trades' catalogs share: a parser per catalog file under tests/data, and a parsed
order's items as {sku: quantity}."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from opsdesk.orders.parsing import OrderParser, ParsedOrder, load_catalog

DATA = Path(__file__).resolve().parents[1] / "data"


@cache
def parser_for(catalog_file: str) -> OrderParser:
    """The parser of one catalog in tests/data ("catalog_hotel_supply.json"), built once."""
    return OrderParser.from_catalog(load_catalog(DATA / catalog_file))


def items(parsed: ParsedOrder) -> dict[str, int]:
    return {item.sku: item.quantity for item in parsed.items}
