"""Orders as people type or speak them in a chat: what the app adds (export prefixes, quoted replies, "edited"),
counts in words, ranges, brackets, keycaps, two units and dozens, section headings, shorthand without vowels, Malay
and Chinese words of the trade, and outlets named by their company or a place.

Found by the third blind set (tests/data/order_forms_real_3.jsonl); the examples here use other outlets, products
and wording, so they check the classes, not the set's rows.
"""

from __future__ import annotations

import pytest

from opsdesk.orders.parsing import OrderParser, ParsedOrder, load_catalog
from opsdesk.orders.parsing.results import ClarificationKind

GREEN_LEAF = "+65 9135 2468"


@pytest.fixture(scope="module")
def parser() -> OrderParser:
    return OrderParser.from_catalog(load_catalog(None))


def _items(parsed: ParsedOrder) -> dict[str, int]:
    return {item.sku: item.quantity for item in parsed.items}


def _kinds(parsed: ParsedOrder) -> list[ClarificationKind]:
    return [c.kind for c in parsed.clarifications]


def test_a_chat_export_is_read_without_its_prefixes_quotes_or_markers(parser: OrderParser) -> None:
    text = (
        "[09/12/26, 10:02:11 PM] Ravi: > Your order: 2 ctn wooden spoon. Reply YES to confirm.\n"
        "> 2 ctn wooden spoon\n"
        "[09/12/26, 10:03:40 PM] Ravi: wooden spoon 3 ctn pls <This message was edited>\n"
        "09/12/26, 10:04 pm - Ravi: and 1 ctn cling wrap"
    )
    parsed = parser.parse(text, GREEN_LEAF)
    assert _items(parsed) == {"CU-SP": 3, "CW-30": 1}
    assert parsed.clarifications == ()


@pytest.mark.parametrize(
    "line", ["wooden knife 2-3 ctn", "wooden knife two or three carton", "wooden knife 2 to 3 ctn"]
)
def test_a_range_is_asked_never_dropped(parser: OrderParser, line: str) -> None:
    parsed = parser.parse(f"{line}\nnapkin 1 ctn", GREEN_LEAF)
    assert _items(parsed) == {"NP-PP": 1}
    assert _kinds(parsed) == [ClarificationKind.UNCLEAR_QUANTITY]
    assert "Exactly how many cartons of Wooden Knife" in parsed.clarifications[0].question


def test_a_count_in_brackets_is_the_count_when_the_line_has_no_other(parser: OrderParser) -> None:
    parsed = parser.parse("1oz sauce cup (2)\n2oz sauce cup (3)\npaper napkin (100 pcs) 1 ctn", GREEN_LEAF)
    assert _items(parsed) == {"SC-1": 2, "SC-2": 3, "NP-PP": 1}


def test_keycap_digits_are_counts_and_a_keycap_at_the_start_of_a_line_is_its_number(parser: OrderParser) -> None:
    parsed = parser.parse(
        "1\ufe0f\u20e3 wooden fork 3\ufe0f\u20e3 ctn\n2\ufe0f\u20e3 cling wrap 1\ufe0f\u20e3 ctn", GREEN_LEAF
    )
    assert _items(parsed) == {"CU-FK": 3, "CW-30": 1}


def test_section_headings_are_context_and_lend_their_size(parser: OrderParser) -> None:
    text = "12OZ\ncups: 2 ctn\nlids: 2 ctn\n\n** BAGS **\nsmall kraft bag: 3 bdl\n\nMEAL TRAYS\n5 comp: 1 ctn"
    parsed = parser.parse(text, GREEN_LEAF)
    assert _items(parsed) == {"CP-12H": 2, "CL-12": 2, "BG-KS": 3, "MT-5C": 1}
    assert parsed.clarifications == ()


def test_a_product_in_capitals_with_its_count_forgotten_is_still_asked(parser: OrderParser) -> None:
    parsed = parser.parse("CLING WRAP\nWOODEN FORK 2 CTN", GREEN_LEAF)
    assert _items(parsed) == {"CU-FK": 2}
    assert _kinds(parsed) == [ClarificationKind.MISSING_QUANTITY]


@pytest.mark.parametrize(
    ("line", "sku", "quantity"),
    [
        ("wooden fork 1 ctn + 1000 pcs", "CU-FK", 2),  # cartons of 1,000
        ("t-shirt bag 2 bdl + 500 pcs", "BG-TS", 3),
        ("bamboo chopsticks 3 dozen ctn", "CS-BB", 36),
        ("the 16oz dome lid make it 4 ctn, not two", "CL-16D", 4),
    ],
)
def test_counts_in_two_units_dozens_and_corrections(parser: OrderParser, line: str, sku: str, quantity: int) -> None:
    parsed = parser.parse(line, GREEN_LEAF)
    assert _items(parsed) == {sku: quantity}
    assert parsed.clarifications == ()


def test_two_different_case_words_for_one_item_are_asked(parser: OrderParser) -> None:
    parsed = parser.parse("small kraft bag 1 ctn + 3 bdl", GREEN_LEAF)
    assert parsed.items == ()
    assert _kinds(parsed) == [ClarificationKind.UNCLEAR_QUANTITY]


def test_the_kind_one_is_not_a_count_when_the_line_counts_elsewhere(parser: OrderParser) -> None:
    assert _items(parser.parse("the small kraft one, four bundle", GREEN_LEAF)) == {"BG-KS": 4}


def test_a_time_in_a_question_is_not_a_count(parser: OrderParser) -> None:
    parsed = parser.parse("wooden spoon 2 ctn\ncan reach after 3 or not? we close 9", GREEN_LEAF)
    assert _items(parsed) == {"CU-SP": 2}
    assert parsed.clarifications == ()


@pytest.mark.parametrize(
    ("line", "sku"),
    [("wdn frk 2 ctn", "CU-FK"), ("bmb chpstk 2 ctn", "CS-BB"), ("clng wrp 2 ctn", "CW-30")],
)
def test_words_written_without_their_vowels(parser: OrderParser, line: str, sku: str) -> None:
    assert _items(parser.parse(line, GREEN_LEAF)) == {sku: 2}


def test_chat_shorthand_is_not_read_as_a_product_without_vowels(parser: OrderParser) -> None:
    parsed = parser.parse("pls snd 2 ctn wooden knife tq", GREEN_LEAF)
    assert _items(parsed) == {"CU-KN": 2}
    assert parsed.clarifications == ()


@pytest.mark.parametrize(
    ("line", "sku", "quantity"),
    [
        ("garpu kayu 2 ctn", "CU-FK", 2),  # Malay: wooden fork
        ("cawan kertas 12oz 3 ctn", "CP-12H", 3),  # paper cup
        ("保鲜膜 1箱", "CW-30", 1),  # Chinese: cling wrap, one carton
        ("木勺 2箱", "CU-SP", 2),  # wooden spoon
    ],
)
def test_malay_and_chinese_words_of_the_trade(parser: OrderParser, line: str, sku: str, quantity: int) -> None:
    assert _items(parser.parse(line, GREEN_LEAF)) == {sku: quantity}


def test_the_company_billed_names_its_outlet_or_asks_when_it_has_several(parser: OrderParser) -> None:
    alone = parser.parse("GREEN LEAF FOODS PTE LTD - PO 7781\nwooden fork 2 ctn", None)
    assert alone.outlet_code == "GL-ON"
    chain = parser.parse("Palazzo Group Pte Ltd\n12 inch plain box 2 bdl", None)
    assert chain.outlet_code is None
    assert _kinds(chain) == [ClarificationKind.AMBIGUOUS_OUTLET]


def test_the_place_one_names_the_outlet(parser: OrderParser) -> None:
    parsed = parser.parse("for the Bedok one: wooden spoon 2 ctn", None)
    assert parsed.outlet_code == "AH-BD"


# --- the fourth blind set's classes (tests/data/order_forms_real_4.jsonl), on other wording -----------------------


def test_a_question_about_a_product_orders_none_of_it_and_is_not_asked_back(parser: OrderParser) -> None:
    parsed = parser.parse("wooden knife 2 ctn\nwhat's the price of the cutlery set? got stock?", GREEN_LEAF)
    assert _items(parsed) == {"CU-KN": 2}
    assert parsed.clarifications == ()


def test_a_remark_after_a_dash_is_not_part_of_the_item(parser: OrderParser) -> None:
    parsed = parser.parse("dome lid 16oz 2 ctn - same lid as last time can?", GREEN_LEAF)
    assert _items(parsed) == {"CL-16D": 2}
    assert parsed.clarifications == ()


@pytest.mark.parametrize(
    "text",
    [
        "wooden fork ~2~ 3 ctn",
        "wooden fork ~~2 ctn~~ 3 ctn",
        "wooden fork 2 ctn\nsorry wooden fork 3 ctn enough",
        "wooden fork 2 ctn\nscratch that, make it 3",
        "wooden fork 2 ctn no wait 3 ctn",
    ],
)
def test_a_count_struck_out_or_corrected_later_in_the_message_is_replaced(parser: OrderParser, text: str) -> None:
    parsed = parser.parse(text, GREEN_LEAF)
    assert _items(parsed) == {"CU-FK": 3}
    assert parsed.clarifications == ()


def test_a_line_taken_out_in_the_same_message_is_not_ordered(parser: OrderParser) -> None:
    parsed = parser.parse("wooden fork 2 ctn\ncling wrap 1 ctn\nhi boss, cancel the cling wrap, still have", GREEN_LEAF)
    assert _items(parsed) == {"CU-FK": 2}
    assert parsed.removed == ("CW-30",)
    assert parsed.clarifications == ()


def test_a_message_that_only_takes_a_line_out_asks_nothing(parser: OrderParser) -> None:
    parsed = parser.parse("no need the napkins already, thanks", GREEN_LEAF)
    assert parsed.items == () and parsed.removed == ("NP-PP",)
    assert parsed.clarifications == ()


def test_two_outlets_each_named_are_a_question_whatever_the_phone(parser: OrderParser) -> None:
    text = "Jurong Point:\n12 inch plain box 4 bdl\nMarina Bay:\n10 inch plain box 2 bdl"
    parsed = parser.parse(text, "+65 9123 4503")  # Jurong Point's phone
    assert parsed.outlet_code is None
    assert _kinds(parsed) == [ClarificationKind.AMBIGUOUS_OUTLET]


@pytest.mark.parametrize(("line", "sku"), [("the small sauce cup 3 ctn", "SC-1"), ("sauce cup big 3 ctn", "SC-2")])
def test_small_or_big_picks_one_of_two_sizes(parser: OrderParser, line: str, sku: str) -> None:
    assert _items(parser.parse(line, GREEN_LEAF)) == {sku: 3}


@pytest.mark.parametrize(
    ("line", "sku", "quantity"),
    [
        ("bamboo chopsticks (wrapped, 2000/ctn) 2 ctn", "CS-BB", 2),  # a comma inside brackets splits nothing
        ("cover for the 1000ml container 3 ctn", "RT-LID", 3),  # a cover is a lid
        ("3 cartns wooden spoon", "CU-SP", 3),  # a unit misspelt
        ("napkin - ctn x2", "NP-PP", 2),  # a unit word left among the item's words
    ],
)
def test_shapes_of_item_lines(parser: OrderParser, line: str, sku: str, quantity: int) -> None:
    parsed = parser.parse(line, GREEN_LEAF)
    assert _items(parsed) == {sku: quantity}
    assert parsed.clarifications == ()


# --- the fifth blind set's classes (tests/data/order_forms_real_5.jsonl), on other wording ------------------------


def test_a_purchasing_system_printout_reads_descriptions_counts_and_units_only(parser: OrderParser) -> None:
    text = (
        "GREEN LEAF FOODS - PURCHASE ORDER\n"
        "PO No: GLF/PO/2026/0091\n"
        "Ln  Item No    Description              Qty  UOM   Unit Price   Amount\n"
        "1   300118     WOODEN FORK              3    CTN   22.00        66.00\n"
        "2   300119     WOODEN SPOON             2000 EA    22.00        44.00\n"
        "3   300201     PAPER NAPKIN             1    CTN   25.00        25.00\n"
        "Sub-total                                                       135.00\n"
        "GST 9%                                                          12.15\n"
        "Total Lines: 3   Total Qty: 2004\n"
    )
    parsed = parser.parse(text, None)
    assert parsed.outlet_code == "GL-ON"
    assert _items(parsed) == {"CU-FK": 3, "CU-SP": 2, "NP-PP": 1}
    assert parsed.clarifications == ()


def test_a_printout_with_single_spaces_and_pieces_that_are_not_whole_cartons(parser: OrderParser) -> None:
    text = "No. Item# Description Qty UOM\n1 K-0101 12OZ SIP LID 3 CTN\n2 K-0102 12OZ PAPER CUP 2500 EA"
    parsed = parser.parse(text, GREEN_LEAF)
    assert _items(parsed) == {"CL-12": 3}
    assert _kinds(parsed) == [ClarificationKind.UNCLEAR_QUANTITY]  # 2,500 cups is 2.5 cartons


@pytest.mark.parametrize(
    "line", ["$150 worth of wooden spoon", "wooden spoon enough for the weekend", "wooden spoon double the usual"]
)
def test_an_amount_of_money_or_time_or_the_usual_is_asked_never_read_as_a_count(parser: OrderParser, line: str) -> None:
    parsed = parser.parse(f"{line}\nwooden fork 2 ctn", GREEN_LEAF)
    assert _items(parsed) == {"CU-FK": 2}
    assert _kinds(parsed) == [ClarificationKind.UNCLEAR_QUANTITY]
    assert "Wooden Spoon" in parsed.clarifications[0].question


def test_an_email_with_its_header_signature_and_disclaimer(parser: OrderParser) -> None:
    text = (
        "Subject: Order for Fri - Ref FC/ORD/2026/55\n"
        "From: Danny Ong\n"
        "Dear Sir/Madam,\n"
        "Kindly deliver the following:\n"
        "16oz dome lid 2 ctn\n"
        "large kraft bag 3 bdl\n"
        "Best regards,\n"
        "Danny Ong | Outlet Manager\n"
        "201 Victoria Street #02-11, Singapore 188067\n"
        "This email and any attachments are confidential and intended solely for the addressee."
    )
    parsed = parser.parse(text, None)
    assert parsed.outlet_code == "FC-BG"
    assert _items(parsed) == {"CL-16D": 2, "BG-KL": 3}
    assert parsed.clarifications == ()


def test_words_the_catalog_writes_as_one_may_come_hyphenated_or_apart(parser: OrderParser) -> None:
    assert _items(parser.parse("take-away container 750ml 2 ctn\ntake away box 1000ml 1 ctn", GREEN_LEAF)) == {
        "RC-750": 2,
        "RT-1000": 1,
    }
