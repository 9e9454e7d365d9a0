"""The parser on a third business's catalog: a hygiene and F&B disposables supplier in Mumbai
(tests/data/catalog_hotel_supply.json, written with the blind set tests/data/order_forms_hotel.jsonl). Nothing in the
parser names this catalog; the examples here are not the set's rows. The classes: vessels (bottles, cans, rolls)
counted against the product's own unit, "24 x 1L", sizes written as one letter, dozens of pieces, "2 ply", items
given as Item:/Qty: fields, Hinglish, ten-digit phone numbers, "today's order", and a bracketed correction."""

from __future__ import annotations

import pytest

from opsdesk.orders.parsing import OrderParser
from opsdesk.orders.parsing.results import ClarificationKind
from tests.orders.parsing_helpers import items, parser_for

KAVERI = "+91 98330 15590"


@pytest.fixture(scope="module")
def hotel() -> OrderParser:
    return parser_for("catalog_hotel_supply.json")


@pytest.mark.parametrize(
    ("line", "sku", "quantity"),
    [
        ("phenyl 5L 3 cans", "PH-5", 3),  # sold by the can
        ("dishwash 1L 36 bottles", "DW-1", 3),  # cases of 12 bottles
        ("vim liquid 1L - 24 btls", "DW-1", 2),
        ("garbage bag small 4 rolls", "GB-S", 4),  # sold by the roll (of 30 bags)
        ("toilet paper 40 rolls", "TR-10", 4),  # packs of 10 rolls
        ("foil 45cm 2 rolls", "AL-45", 2),  # one roll is one unit
        ("harpic 1L 36 x 1L", "TC-1", 3),
        ("floor cleaner 12 x 1 litre", "FC-1", 1),
    ],
)
def test_a_vessel_counts_the_product_unit_or_its_pieces(hotel: OrderParser, line: str, sku: str, quantity: int) -> None:
    parsed = hotel.parse(line, KAVERI)
    assert items(parsed) == {sku: quantity}
    assert parsed.clarifications == ()


def test_bottles_that_are_not_whole_cases_are_asked_in_bottles(hotel: OrderParser) -> None:
    parsed = hotel.parse("toilet cleaner 1 ltr - 18 btl\nphenyl 5L 1 can", KAVERI)
    assert items(parsed) == {"PH-5": 1}
    assert [c.kind for c in parsed.clarifications] == [ClarificationKind.UNCLEAR_QUANTITY]
    assert "18 btl is 1.5 cases" in parsed.clarifications[0].question


def test_bottles_of_a_product_sold_by_the_bottle_elsewhere_are_units() -> None:
    bakery = parser_for("catalog_bakery_supply.json")
    parsed = bakery.parse("oat milk 24 x 1L\nwhipping cream 2 ctn", "+60 12-345 6701")
    assert items(parsed) == {"MK-OT1": 2, "CR-WH1": 2}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nitrile gloves S - 2 box", {"GL-S": 2}),
        ("gloves (l) 1 box", {"GL-L": 1}),
        ("garbage bag XL 3 pkt", {"GB-XL": 3}),
        ("extra large garbage bag 1 pkt", {"GB-XL": 1}),
        ("Item\tSize\tQty\tUnit\nGloves\tM\t2\tbox\nGarbage bag\tS\t5\troll", {"GL-M": 2, "GB-S": 5}),
        ("hand wash 5 L - 2 can", {"HW-5": 2}),  # a number before the letter: litres
    ],
)
def test_a_size_written_as_one_letter(hotel: OrderParser, text: str, expected: dict[str, int]) -> None:
    parsed = hotel.parse(text, KAVERI)
    assert items(parsed) == expected
    assert parsed.clarifications == ()


@pytest.mark.parametrize(
    ("line", "sku", "quantity"),
    [
        ("harpic 1L 3 dz", "TC-1", 3),  # a dozen bottles is one case
        ("floor cleaner 1L - 1 doz", "FC-1", 1),
        ("scrub pad 2 dozen pkt", "SP-10", 24),  # a unit after the dozen counts that unit
    ],
)
def test_dozens(hotel: OrderParser, line: str, sku: str, quantity: int) -> None:
    assert items(hotel.parse(line, KAVERI)) == {sku: quantity}


def test_ply_is_a_kind_not_a_count(hotel: OrderParser) -> None:
    parsed = hotel.parse("tissue roll 2-ply 6 pkt\n2 ply napkin 3 pack", KAVERI)
    assert items(parsed) == {"TR-10": 6, "NP-100": 3}
    assert parsed.clarifications == ()


def test_items_given_as_item_and_qty_fields(hotel: OrderParser) -> None:
    parsed = hotel.parse("Item: Phenyl 5L\nQty: 5\nItem: Mop\nQuantity: 2 pcs\nRegards", KAVERI)
    assert items(parsed) == {"PH-5": 5, "MP-ST": 2}
    assert parsed.clarifications == ()


def test_hinglish_counts_and_verbs(hotel: OrderParser) -> None:
    parsed = hotel.parse("teen packet scotch brite bhej do\ndo can phenyl chahiye\njhadu bhi chahiye", KAVERI)
    assert items(parsed) == {"SP-10": 3, "PH-5": 2}
    # the broom with no count is asked about, never dropped as a remark
    assert [(c.kind, c.span) for c in parsed.clarifications] == [(ClarificationKind.MISSING_QUANTITY, "jhadu")]


def test_a_ten_digit_phone_in_a_signature_is_not_an_item(hotel: OrderParser) -> None:
    parsed = hotel.parse("Toilet rolls - 10 packs\nRegards\nAmit\nMob: 98200 11223\nPh: 022-2836 4501", KAVERI)
    assert items(parsed) == {"TR-10": 10}
    assert parsed.clarifications == ()


def test_todays_order_names_an_order_not_a_deadline(hotel: OrderParser) -> None:
    assert not hotel.parse("add to today's order: phenyl 5L 1 can", KAVERI).urgent
    assert hotel.parse("phenyl 5L 1 can, need it today", KAVERI).urgent


def test_what_a_bracketed_correction_replaces_is_not_read(hotel: OrderParser) -> None:
    parsed = hotel.parse("Gloves M - 2 box (not L)\ncontainer 500 ml 4 pkt (instead of 750 ml)", KAVERI)
    assert items(parsed) == {"GL-M": 2, "CT-500": 4}
    assert parsed.clarifications == ()
