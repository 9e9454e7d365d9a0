"""The parser on a fifth business's catalog: a drinks and bar-supplies wholesaler in Greater Manchester
(tests/data/catalog_drinks_wholesale.json, written with the blind set tests/data/order_forms_drinks.jsonl). Nothing
in the parser names this catalog; the examples here are not the set's rows. The classes: keg and spirit sizes (50L,
70cl), "co2", slabs and crates, an order portal's CSV export, "2 or 3", "the order from this morning", empties to
collect, bags of crisps in a box, names holding "&", a name that loses a part ("c&o crisps"), and "few"."""

from __future__ import annotations

import pytest

from opsdesk.core.text import plural
from opsdesk.orders.parsing import OrderParser
from opsdesk.orders.parsing.results import ClarificationKind
from tests.orders.parsing_helpers import items, parser_for

RED_LION = "+44 161 496 0345"


@pytest.fixture(scope="module")
def drinks() -> OrderParser:
    return parser_for("catalog_drinks_wholesale.json")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("3 x 50L carling", {"KG-CAR50": 3}),  # the size, never 50 kegs
        ("thatchers 30 litre x 2", {"KG-THT30": 2}),
        ("jameson 70cl - 3 bottles", {"SP-JAM70": 3}),
        ("CO2 x 4", {"GS-CO2": 4}),
        ("a slab of peroni", {"BT-PER24": 1}),
        ("2 crates of corona", {"BT-COR24": 2}),
        ("house gin 18 btls", {"SP-HGN1L": 3}),  # cases of 6
        ("cheese n onion crisps 96 bags", {"CR-CO48": 2}),  # bags in boxes of 48
        ("kopparberg strawberry and lime 2 cases", {"BT-KOP12": 2}),
        ("gas x 3", {"GS-CO2": 3}),  # "30/70 gas" is another product's name, not "gas"
    ],
)
def test_how_bar_staff_write_an_order(drinks: OrderParser, line: str, expected: dict[str, int]) -> None:
    parsed = drinks.parse(line, RED_LION)
    assert items(parsed) == expected
    assert parsed.clarifications == ()


def test_an_order_portal_csv_export(drinks: OrderParser) -> None:
    text = "sku,description,qty,unit,line_total\nSP-SMI1L,Smirnoff Red 1L,4,bottle,60.00\nMX-TON24,Tonic,2,case,28.80"
    parsed = drinks.parse(text, RED_LION)
    assert items(parsed) == {"SP-SMI1L": 4, "MX-TON24": 2}
    assert parsed.clarifications == ()


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("guinness x 3 or 4", ClarificationKind.UNCLEAR_QUANTITY),  # never the first number
        ("a few packs of coke 2L", ClarificationKind.MISSING_QUANTITY),  # asked, never only a note
    ],
)
def test_what_is_asked(drinks: OrderParser, line: str, kind: ClarificationKind) -> None:
    parsed = drinks.parse(f"{line}\nCO2 x 1", RED_LION)
    assert items(parsed) == {"GS-CO2": 1}
    assert [c.kind for c in parsed.clarifications] == [kind]


def test_empties_to_collect_are_a_note_notitems(drinks: OrderParser) -> None:
    parsed = drinks.parse("Guinness 50L x 2\nEmpties to collect: 4 kegs, 2 gas", RED_LION)
    assert items(parsed) == {"KG-GUI50": 2}
    assert parsed.clarifications == ()
    assert parsed.remarks == ("Empties to collect: 4 kegs, 2 gas",)


def test_the_order_from_this_morning_is_not_a_deadline(drinks: OrderParser) -> None:
    assert not drinks.parse("Sorry, change to the order from this morning: prosecco 3 cases", RED_LION).urgent


def test_units_are_asked_about_in_good_english(drinks: OrderParser) -> None:
    question = drinks.parse("straws 300 pcs", RED_LION).clarifications[0].question
    assert "boxes" in question and "boxs" not in question
    assert [plural(unit) for unit in ("box", "bundle", "pcs", "pouch", "glass")] == [
        "boxes",
        "bundles",
        "pcs",
        "pouches",
        "glasses",
    ]
