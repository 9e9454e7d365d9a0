"""The parser on a fourth business's catalog: an FMCG wholesaler supplying sari-sari stores in Metro Manila
(tests/data/catalog_grocery_wholesale.json, written with the blind set tests/data/order_forms_grocery.jsonl).
Nothing in the parser names this catalog; the examples here are not the set's rows. The classes: Tagalog counts,
units and particles, "tig-" (each), a brand written as a number ("555"), grams, a weight that names the product,
kilos of packs sold in bales, "coke 1.5", "5x8" bags, gallons, "3-in-1", "1/2 case", national phone numbers,
"hindi" (not), and notes kept in the customer's words."""

from __future__ import annotations

import pytest

from opsdesk.orders.parsing import OrderParser
from opsdesk.orders.parsing.results import ClarificationKind
from opsdesk.orders.parsing.signals import DraftRelation, draft_relation
from tests.orders.parsing_helpers import items, parser_for

TONYO = "+63 928 441 0917"
PAYATAS = "+63 917 812 3402"


@pytest.fixture(scope="module")
def grocery() -> OrderParser:
    return parser_for("catalog_grocery_wholesale.json")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("tatlong sako dinorado", {"RC-DN25": 3}),
        ("apat na kahon ng chicken mami", {"NL-CK72": 4}),
        ("limang tali bear brand po", {"MK-PW33": 5}),
        ("kandila 3 dosena", {"HH-CN12": 3}),  # 36 candles in packs of 12
        ("pancit canton at chicken mami, tig-3 na kahon", {"NL-PC72": 3, "NL-CK72": 3}),
        ("pa-order po ng 2 case ligo", {"FS-SR155": 2}),
        ("2 case 555", {"FS-SR155": 2}),  # a brand written as a number
        ("sardinas 555 = 1 cs", {"FS-SR155": 1}),
        ("corned beef 150g 3 case", {"MC-CB150": 3}),  # grams are the product's size
        ("Dinorado 25kg x 4 sacks", {"RC-DN25": 4}),  # the weight its name states, not a second count
        ("asukal pula 60 kilo", {"SG-BR1": 3}),  # 60 one-kilo packs in bales of 20
        ("royal 1.5 3 case", {"SD-OR15": 3}),
        ("labo 10x15 2 pack", {"PB-L1015": 2}),
        ("2 galon suka", {"CD-VN1G": 2}),
        ("mantika 1 gal 3", {"OL-1G": 3}),
        ("3 in 1 coffee 12 banig", {"CF-3N1": 12}),
        ("shampoo 36 sachets", {"HB-SH12": 3}),  # strips of 12
    ],
)
def test_how_sari_sari_stores_write_an_order(grocery: OrderParser, line: str, expected: dict[str, int]) -> None:
    parsed = grocery.parse(line, TONYO)
    assert items(parsed) == expected
    assert parsed.clarifications == ()


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("sardines 1/2 case", ClarificationKind.UNCLEAR_QUANTITY),  # never a date, never rounded
        ("coke 3 case", ClarificationKind.AMBIGUOUS_ITEM),  # 1.5 L or 8 oz
        ("toyo galon", ClarificationKind.MISSING_QUANTITY),  # a gallon product, no count
        ("konting shampoo lang", ClarificationKind.MISSING_QUANTITY),  # "a little": asked, never a note
    ],
)
def test_what_is_asked(grocery: OrderParser, line: str, kind: ClarificationKind) -> None:
    parsed = grocery.parse(f"{line}\nligo 1 case", TONYO)
    assert items(parsed) == {"FS-SR155": 1}
    assert [c.kind for c in parsed.clarifications] == [kind]


def test_a_national_number_finds_the_outlet_and_po_stays_a_reference(grocery: OrderParser) -> None:
    parsed = grocery.parse("PO 20931\nContact: 0905 330 2214\nligo 1 case", "+63 999 000 0000")
    assert parsed.outlet is not None and parsed.outlet.outlet.code == "KB-MLD"
    assert items(parsed) == {"FS-SR155": 1}
    assert parsed.clarifications == ()


def test_hindi_takes_an_outlet_out(grocery: OrderParser) -> None:
    parsed = grocery.parse("para sa Batasan store, hindi Payatas\nligo 1 case", PAYATAS)
    assert parsed.outlet is not None and parsed.outlet.outlet.code == "AN-BTS"


def test_notes_are_kept_in_the_customers_words(grocery: OrderParser) -> None:
    parsed = grocery.parse("ligo 2 case\nGCash na lang po ang bayad ha", TONYO)
    assert parsed.remarks == ("GCash na lang po ang bayad ha",)


def test_a_follow_up_in_tagalog_adds_to_the_waiting_draft() -> None:
    text = "pahabol po\nligo 1 case\nkandila 2 dosena\nsalamat"
    assert draft_relation(text, items=2, outlet_named=None, draft_outlet="MT-TMN") is DraftRelation.CORRECTION
