"""The parser on another business's catalog: a bakery and café supplier in Malaysia
(tests/data/catalog_bakery_supply.json, written with the blind set tests/data/order_forms_bakery.jsonl). Nothing in
the parser names this catalog; the examples here are not the set's rows."""

from __future__ import annotations

import pytest

from opsdesk.orders.parsing import OrderParser
from opsdesk.orders.parsing.results import ClarificationKind
from tests.orders.parsing_helpers import items, parser_for

BANGSAR = "+60 12-345 6701"


@pytest.fixture(scope="module")
def bakery() -> OrderParser:
    return parser_for("catalog_bakery_supply.json")


@pytest.mark.parametrize(
    ("line", "sku", "quantity"),
    [
        ("tepung gandum 75 kg", "FL-AP25", 3),  # 25 kg bags
        ("gula 100kg", "SG-FN50", 2),  # 50 kg bags
        ("house blend 4 kilo", "CF-HB1", 4),  # 1 kg bags
    ],
)
def test_a_weight_is_divided_by_the_weight_the_product_name_states(
    bakery: OrderParser, line: str, sku: str, quantity: int
) -> None:
    parsed = bakery.parse(line, BANGSAR)
    assert items(parsed) == {sku: quantity}
    assert parsed.clarifications == ()


def test_a_weight_that_is_not_whole_bags_is_asked(bakery: OrderParser) -> None:
    parsed = bakery.parse("bread flour 40kg\nmentega 2 carton", BANGSAR)
    assert items(parsed) == {"BT-UN1": 2}
    assert [c.kind for c in parsed.clarifications] == [ClarificationKind.UNCLEAR_QUANTITY]
    assert "25 kg" in parsed.clarifications[0].question


@pytest.mark.parametrize(
    ("line", "sku", "quantity"),
    [
        ("sirap karamel 3 botol", "SY-CM", 3),
        ("vanilla syrup 2 btl", "SY-VN", 2),
        ("gula pasir 2 guni", "SG-FN50", 2),
        ("telur 90 biji", "EG-A30", 3),  # trays of 30
        ("biji kopi 2 bag", "CF-HB1", 2),  # "biji" before a name is part of it
    ],
)
def test_unit_words_of_other_trades_and_malay(bakery: OrderParser, line: str, sku: str, quantity: int) -> None:
    parsed = bakery.parse(line, BANGSAR)
    assert items(parsed) == {sku: quantity}
    assert parsed.clarifications == ()


@pytest.mark.parametrize(("line", "sku"), [("flour 2 bag", "FL-AP25"), ("baking paper 2 roll", "BP-30")])
def test_the_catalogs_own_word_for_one_product_names_it(bakery: OrderParser, line: str, sku: str) -> None:
    parsed = bakery.parse(line, BANGSAR)
    assert items(parsed) == {sku: 2}
    assert parsed.clarifications == ()


def test_blocks_of_a_product_sold_in_cartons_of_blocks_are_pieces(bakery: OrderParser) -> None:
    parsed = bakery.parse("mentega 30 blocks\nunsalted butter 5 blocks", BANGSAR)
    assert items(parsed) == {"BT-UN1": 3}  # cartons of 10 blocks
    assert [c.kind for c in parsed.clarifications] == [ClarificationKind.UNCLEAR_QUANTITY]


def test_a_short_line_asking_for_some_of_a_product_is_asked_not_kept_as_a_note(bakery: OrderParser) -> None:
    parsed = bakery.parse("Bangsar order\ncooking cream some\nAP flour 1 bag", BANGSAR)
    assert items(parsed) == {"FL-AP25": 1}
    assert [(c.kind, c.span) for c in parsed.clarifications] == [
        (ClarificationKind.MISSING_QUANTITY, "cooking cream some")
    ]


def test_header_keys_in_capitals_and_a_street_address_in_the_first_line(bakery: OrderParser) -> None:
    parsed = bakery.parse("Order for 22 Jalan Telawi 3\nPIC: Aisyah 012-345 6789\nflour 1 bag", "+60 19-000 0000")
    assert parsed.outlet is not None and parsed.outlet.outlet.code == "BB-BSR"  # the address, not the phone
    assert items(parsed) == {"FL-AP25": 1}
    assert parsed.clarifications == ()


def test_the_catalogs_own_name_in_malay_is_not_translated(bakery: OrderParser) -> None:
    parsed = bakery.parse("kertas pembakar 3 gulung\ncawan kertas 8oz 1 ctn", BANGSAR)
    assert items(parsed) == {"BP-30": 3, "PC-8": 1}
    assert parsed.clarifications == ()
