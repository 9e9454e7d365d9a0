"""The parser on a sixth business's catalog: a restaurant and café supplier in Jakarta
(tests/data/catalog_horeca_jakarta.json, written with the blind set tests/data/order_forms_jakarta.jsonl). Nothing in
the parser names this catalog; the examples here are not the set's rows. The classes: Bahasa Indonesia counts, units
and words of an order, a weight beside the count, a unit that names one product of a kind ("peti", "kg"), a name
that ends in a number ("kresek 24"), sizes as one letter in the catalog's names, "galon", Indonesian addresses and
national phone numbers, "cabang Tebet", and "susulan"."""

from __future__ import annotations

import pytest

from opsdesk.orders.parsing import OrderParser
from opsdesk.orders.parsing.results import ClarificationKind
from opsdesk.orders.parsing.signals import DraftRelation, draft_relation
from tests.orders.parsing_helpers import items, parser_for

TEBET = "+62 812-1045-3301"


@pytest.fixture(scope="module")
def jakarta() -> OrderParser:
    return parser_for("catalog_horeca_jakarta.json")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("minyak goreng tiga dus ya kak", {"OL-2L": 3}),
        ("beras 5 kilo 4 karung", {"RC-5": 4}),  # the weight its name states, not a second count
        ("gula pasir dua bal", {"SG-1": 2}),
        ("kecap manis 2 lusin", {"KC-620": 2}),  # 24 bottles in boxes of 12
        ("gula sekodi", {"SG-1": 1}),  # 20 packs in bales of 20
        ("telur 1 peti", {"EG-P15": 1}),  # the egg product sold by the crate
        ("telur 5 kg", {"EG-KG": 5}),  # the one sold by the kg
        ("gas 3kg 2 tabung", {"GS-3": 2}),
        ("kresek 24 3 pak", {"PB-24": 3}),  # "24" is the name's, not a count
        ("Paper lunch box M 2 pak", {"FB-PM": 2}),
        ("galon 3", {"WT-GLN": 3}),
        ("indomie 80 bungkus", {"NM-GR": 2}),  # boxes of 40
        ("tisu 2 pak", {"TS-250": 2}),
    ],
)
def test_how_jakarta_kitchens_write_an_order(jakarta: OrderParser, line: str, expected: dict[str, int]) -> None:
    parsed = jakarta.parse(line, TEBET)
    assert items(parsed) == expected
    assert parsed.clarifications == ()


@pytest.mark.parametrize("line", ["minyak 2 atau 3 dus", "telur setengah peti"])
def test_a_range_or_a_half_is_asked(jakarta: OrderParser, line: str) -> None:
    parsed = jakarta.parse(f"{line}\ngalon 1", TEBET)
    assert items(parsed) == {"WT-GLN": 1}
    assert [c.kind for c in parsed.clarifications] == [ClarificationKind.UNCLEAR_QUANTITY]


@pytest.mark.parametrize(
    ("text", "phone", "outlet"),
    [
        ("Pesanan buat cabang Rawamangun ya\ngalon 1", TEBET, "BR-RWM"),
        ("Kirim ke Jl. Pluit Karang Ayu No. 3 ya\ngalon 1", "+62 899-0000-0000", "LB-PLT"),
        ("Pesanan dari HP 0857-1122-4060\ngalon 1", "+62 899-0000-0000", "CK-CPT"),
    ],
)
def test_the_outlet_from_a_branch_an_address_or_a_number(
    jakarta: OrderParser, text: str, phone: str, outlet: str
) -> None:
    parsed = jakarta.parse(text, phone)
    assert parsed.outlet is not None and parsed.outlet.outlet.code == outlet
    assert [c.kind for c in parsed.clarifications] == []


def test_a_follow_up_adds_to_the_waiting_draft() -> None:
    text = "susulan kak\nsedotan 2 pak\ntisu 3 pak"
    assert draft_relation(text, items=2, outlet_named=None, draft_outlet="BR-TBT") is DraftRelation.CORRECTION
