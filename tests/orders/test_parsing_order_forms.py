"""Order forms as outlets really send them: header fields, footers and notes, per-piece counts, odd numbers.

The examples are written for these tests (other outlets and wording than tests/data/order_forms_real.jsonl), so
they check the classes of input, not the labelled set.
"""

from __future__ import annotations

import pytest

from opsdesk.orders.parsing import OrderParser, ParsedOrder, load_catalog
from opsdesk.orders.parsing.signals import DraftRelation, draft_relation


@pytest.fixture(scope="module")
def parser() -> OrderParser:
    return OrderParser.from_catalog(load_catalog(None))


def _items(parsed: ParsedOrder) -> dict[str, int]:
    return {item.sku: item.quantity for item in parsed.items}


def test_header_fields_identify_the_outlet_and_are_never_asked_about_as_items(parser: OrderParser) -> None:
    text = (
        "🔸 *Outlet Address:* 27 Lorong Liput\n"
        "🔸 *Contact Person:* Giulia\n"
        "🔸 *Contact Number:* 9234 1188\n"
        "🔸 PO No: 7781\n\n"
        '📦 12" Premium Box (100/bundle): 400\n'
        "📦 Pizza Saver (1000/ctn): 1000\n"
    )
    parsed = parser.parse(text, None)
    assert parsed.outlet_code == "NK-HV"
    assert _items(parsed) == {"PB-12P": 4, "PS-TR": 1}
    assert parsed.clarifications == ()


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("📍 Blk 448 Clementi Ave 3 #01-15", "UL-CL"),  # an address line without a label
        ("Delivery address: S(556083)", "SS-SR"),  # the postal code alone
        ("Tel/HP: +65 9456-3321", "GB-CT"),  # a registered phone in any format
        ("Add: 201 Victoria St #02-11", "FC-BG"),
    ],
)
def test_an_address_or_a_registered_number_in_the_header_finds_the_outlet(
    parser: OrderParser, header: str, code: str
) -> None:
    parsed = parser.parse(f"{header}\n2 ctn wooden forks\n1 ctn napkins", None)
    assert parsed.outlet_code == code
    assert parsed.clarifications == ()


def test_a_chain_name_is_settled_by_the_address_that_follows_it(parser: OrderParser) -> None:
    parsed = parser.parse("Outlet: Pizza Palazzo\nAddress: 1 Sengkang Sq #03-12\n10 inch box: 3 bdl", None)
    assert parsed.outlet_code == "PZ-SK"


def test_a_header_address_wins_over_the_senders_phone_and_a_negated_outlet_is_ignored(parser: OrderParser) -> None:
    text = "Address: 1 Jurong West Central 2 #02-33\n12 inch box: 4 bdl\nPls send to Jurong, not Marina outlet"
    parsed = parser.parse(text, "+65 9123 4501")  # Marina Bay's phone
    assert parsed.outlet_code == "SR-JP"


def test_footer_notes_are_kept_and_products_they_mention_are_not_asked_about(parser: OrderParser) -> None:
    text = (
        "Kopi Kaki order\n"
        "12oz cup (1000/ctn): 3000\n"
        "Remarks: the lids come with the cups as usual\n"
        "cups running low, pls come before 10am if can\n"
        "Thank you boss 🙏"
    )
    parsed = parser.parse(text, None)
    assert _items(parsed) == {"CP-12H": 3}
    assert parsed.clarifications == ()
    assert any("lids come with the cups" in remark for remark in parsed.remarks)
    assert any("before 10am" in remark for remark in parsed.remarks)
    assert not any("thank" in remark.lower() for remark in parsed.remarks)


def test_a_request_without_a_count_is_still_asked_about(parser: OrderParser) -> None:
    parsed = parser.parse("Kopi Kaki order\n12oz cup (1000/ctn): 3000\nalso send some chopsticks pls", None)
    assert "missing_quantity" in parsed.clarification_kinds


@pytest.mark.parametrize(
    ("line", "bundles"),
    [("(100/bundle): 100", 1), ("(100/bundle): 2000", 20), ("(100/bundle): 2,500", 25), ("(100/bundle): 10000", 100)],
)
def test_per_piece_counts_on_a_form_line_are_read_at_any_size(parser: OrderParser, line: str, bundles: int) -> None:
    parsed = parser.parse(f"Outlet: Nonna's Kitchen\n10\" Regular Box {line}", None)
    assert _items(parsed) == {"PB-10R": bundles}
    assert parsed.clarifications == ()


def test_pieces_that_are_not_whole_packs_are_asked_about(parser: OrderParser) -> None:
    parsed = parser.parse("Outlet: Kopi Kaki\n8oz hot cup (1000/ctn): 2500", None)
    assert _items(parsed) == {}
    assert parsed.clarification_kinds == ["unclear_quantity"]


@pytest.mark.parametrize("count", ["½", "¾", "1½", "-5", "0x10", "1e9", "1e2"])
def test_a_count_that_is_not_a_plain_whole_number_is_asked_about(parser: OrderParser, count: str) -> None:
    parsed = parser.parse(f"Outlet: Bao Bros\nchopsticks: {count} ctn", None)
    assert _items(parsed) == {}
    assert parsed.clarification_kinds == ["unclear_quantity"]


def test_a_year_is_a_date_only_beside_a_month(parser: OrderParser) -> None:
    parsed = parser.parse("Outlet: Bao Bros\nDate: 7 Dec 2026\nsauce cup 2oz (2500/ctn): 2500\ncups 8oz x 2025", None)
    assert _items(parsed) == {"SC-2": 1}
    assert "unclear_quantity" in parsed.clarification_kinds  # 2025 cups: cartons or pieces?


@pytest.mark.parametrize(
    ("text", "relation"),
    [
        ('oops make the 10" box 4 bdl', DraftRelation.CORRECTION),
        ("*UPDATED ORDER*\nOutlet: Bao Bros\nchopsticks: 2 ctn\nnapkin: 1 ctn\nspoon: 1 ctn", DraftRelation.CORRECTION),
        ("One more order for Friday pls\nchopsticks: 2 ctn\nnapkin: 1 ctn", DraftRelation.NEW_ORDER),
        ("Outlet: Bao Bros\nchopsticks: 2 ctn\nnapkin: 1 ctn\nspoon: 1 ctn", DraftRelation.UNCLEAR),
    ],
)
def test_a_message_while_a_draft_waits_is_told_apart(parser: OrderParser, text: str, relation: DraftRelation) -> None:
    parsed = parser.parse(text, None)
    named = parsed.outlet_code
    assert draft_relation(text, items=len(parsed.items), outlet_named=named, draft_outlet="BB-TP") is relation


def test_a_form_for_another_outlet_is_a_new_order(parser: OrderParser) -> None:
    text = "Outlet: Fat Cat Burgers\ndome lid: 2 ctn"
    parsed = parser.parse(text, None)
    assert draft_relation(text, items=1, outlet_named=parsed.outlet_code, draft_outlet="BB-TP") is (
        DraftRelation.NEW_ORDER
    )
