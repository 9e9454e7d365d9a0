"""Order forms beyond the emoji template: product codes, tables pasted from a spreadsheet, "2.5k", "N box", swapped
letters, fields on one line, and outlets named in notes or by a unit number.

Found by the second blind set (tests/data/order_forms_real_2.jsonl); the examples here use other outlets, products and
wording, so they check the classes, not the set's rows.
"""

from __future__ import annotations

import pytest

from opsdesk.orders.parsing import OrderParser, ParsedOrder, load_catalog
from opsdesk.orders.parsing.results import ClarificationKind
from opsdesk.orders.parsing.tables import reflow_tables

GREEN_LEAF = "+65 9135 2468"
KOPI_KAKI = "+65 9890 7765"


@pytest.fixture(scope="module")
def parser() -> OrderParser:
    return OrderParser.from_catalog(load_catalog(None))


def _items(parsed: ParsedOrder) -> dict[str, int]:
    return {item.sku: item.quantity for item in parsed.items}


def test_product_codes_name_their_product_and_their_digits_are_never_quantities(parser: OrderParser) -> None:
    parsed = parser.parse("CP-12H x 3\ncl12 3\nRT-1000: 2 ctn\nRT-LID 2", KOPI_KAKI)
    assert _items(parsed) == {"CP-12H": 3, "CL-12": 3, "RT-1000": 2, "RT-LID": 2}
    assert parsed.clarifications == ()


def test_a_correction_by_code_keeps_the_new_number_and_drops_the_old(parser: OrderParser) -> None:
    parsed = parser.parse("sorry, CU-FK 4 (not 2)", GREEN_LEAF)
    assert _items(parsed) == {"CU-FK": 4}


def test_a_question_about_a_coded_line_quotes_the_code_as_written(parser: OrderParser) -> None:
    parsed = parser.parse("PB-9R 3 bdl", GREEN_LEAF)  # the 9" box is discontinued
    assert parsed.items == ()
    assert [c.kind for c in parsed.clarifications] == [ClarificationKind.UNKNOWN_ITEM]
    assert "PB-9R" in parsed.clarifications[0].span
    assert "skucode" not in parsed.clarifications[0].question + parsed.clarifications[0].span


@pytest.mark.parametrize(
    ("line", "sku", "quantity"),
    [
        ("serviette 10k", "NP-PP", 2),  # 10,000 pieces, cartons of 5,000
        ("1oz sauce cup 5k", "SC-1", 2),  # cartons of 2,500
        ("small kraft bag 1.0k pcs", "BG-KS", 4),
        ("t-shirt bag 1.5k", "BG-TS", 3),  # bundles of 500
    ],
)
def test_thousands_written_with_k_are_pieces(parser: OrderParser, line: str, sku: str, quantity: int) -> None:
    assert _items(parser.parse(line, GREEN_LEAF)) == {sku: quantity}


def test_k_pieces_that_are_not_whole_packs_are_asked_and_money_in_k_is_not_a_count(parser: OrderParser) -> None:
    parsed = parser.parse("napkins 7.5k", GREEN_LEAF)  # 1.5 cartons
    assert parsed.items == ()
    assert [c.kind for c in parsed.clarifications] == [ClarificationKind.UNCLEAR_QUANTITY]
    assert _items(parser.parse("wooden spoon 2 ctn, budget $2k", GREEN_LEAF)) == {"CU-SP": 2}


def test_a_spreadsheet_paste_with_a_header_empty_cells_and_pieces_in_the_heading(parser: OrderParser) -> None:
    text = (
        "Green Leaf order\n"
        "Description\tQty (pcs)\tPrice\n"
        "Wooden fork\t2000\t$18.00\n"
        "Wooden spoon\t\t$18.00\n"
        "Wooden knife\tnil\t$18.00\n"
        "Cutlery set\t500\t$30.00\n"
        "Paper napkin\t-\t$25.00\n"
    )
    parsed = parser.parse(text, None)
    assert parsed.outlet_code == "GL-ON"
    assert _items(parsed) == {"CU-FK": 2, "CU-SET": 1}
    assert parsed.clarifications == ()


def test_a_table_with_code_description_quantity_and_unit_columns(parser: OrderParser) -> None:
    text = (
        "Kopi Kaki PO 5521\n"
        "| Code | Description | Qty | UOM | Remarks |\n"
        "|------|-------------|-----|-----|---------|\n"
        "| CP-8H | 8oz Paper Cup | 3 | CTN | |\n"
        "| CL-8 | 8oz Sip Lid | 3 | CTN | black lids pls |\n"
        "| CP-16C | 16oz Clear Cold Cup | | CTN | |\n"
    )
    parsed = parser.parse(text, None)
    assert parsed.outlet_code == "KK-TPY"
    assert _items(parsed) == {"CP-8H": 3, "CL-8": 3}
    assert parsed.clarifications == ()
    assert "black lids pls" in parsed.remarks


def test_table_rows_without_a_header_and_a_row_left_empty(parser: OrderParser) -> None:
    parsed = parser.parse("1oz sauce cup | 2 | ctn\n2oz sauce cup | | ctn\nbamboo chopsticks | 1 | ctn", GREEN_LEAF)
    assert _items(parsed) == {"SC-1": 2, "CS-BB": 1}
    assert parsed.clarifications == ()


def test_header_fields_on_one_line_split_by_pipes(parser: OrderParser) -> None:
    parsed = parser.parse("Shop: Mama Wong | Attn: Ah Lian | Tel: 9579 6802\n2oz sauce cup 2 ctn", None)
    assert parsed.outlet_code == "MW-YS"
    assert _items(parsed) == {"SC-2": 2}


def test_reflowed_tables_keep_ordinary_lines_as_they_are() -> None:
    text = "Hi boss\n12 inch box 5 bdl\nthanks"
    assert reflow_tables(text) == text


def test_an_outlet_named_in_a_note_does_not_outvote_the_header(parser: OrderParser) -> None:
    text = "Palazzo Sengkang\n1 Sengkang Sq #03-12\n\n10 inch plain box 4 bdl\n\nPunggol will collect theirs separately"
    parsed = parser.parse(text, "+65 9791 8024")  # the phone of the Punggol outlet
    assert parsed.outlet_code == "PZ-SK"


def test_a_note_names_the_outlet_when_nothing_else_does(parser: OrderParser) -> None:
    parsed = parser.parse("2 ctn wooden spoon\nthis one is for the Ah Hock Bedok shop pls", None)
    assert parsed.outlet_code == "AH-BD"


def test_a_unit_number_on_its_own_settles_a_chain_name(parser: OrderParser) -> None:
    parsed = parser.parse("Pizza Palazzo\n#01-47\n12 inch plain box 6 bdl", None)
    assert parsed.outlet_code == "PZ-PG"
    assert parsed.clarifications == ()


@pytest.mark.parametrize(
    ("line", "sku", "quantity"),
    [
        ("500ml round container 3 box", "RC-500", 3),  # a box of containers is a carton
        ("dome lid 16oz 2 boxes", "CL-16D", 2),
        ("12 inch plain 300 box", "PB-12R", 3),  # a pizza box counted in boxes: 300 pieces, 3 bundles
    ],
)
def test_box_after_the_count_is_the_selling_unit_unless_the_product_is_a_box(
    parser: OrderParser, line: str, sku: str, quantity: int
) -> None:
    parsed = parser.parse(line, GREEN_LEAF)
    assert _items(parsed) == {sku: quantity}
    assert parsed.clarifications == ()


@pytest.mark.parametrize(("line", "sku"), [("wooden frok 2 ctn", "CU-FK"), ("meal tary lid 3 ctn", "MT-LID")])
def test_two_swapped_letters_are_a_typo_of_the_catalog_word(parser: OrderParser, line: str, sku: str) -> None:
    assert _items(parser.parse(line, GREEN_LEAF)) == {sku: int(line.split()[-2])}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("2 ctn wooden spoon for our Yishun branch", "MW-YS"),  # "Mama Wong Yishun"
        ("Need for the Woodlands shop: cling wrap 1 ctn", "FM-WL"),  # "FreshMart Woodlands"
    ],
)
def test_a_word_only_one_outlet_is_named_by_before_outlet_or_branch_names_it(
    parser: OrderParser, text: str, code: str
) -> None:
    parsed = parser.parse(text, None)
    assert parsed.outlet_code == code
    assert parsed.clarifications == ()


def test_a_word_several_outlets_share_before_branch_is_still_a_question(parser: OrderParser) -> None:
    parsed = parser.parse("Palazzo branch: wooden fork 2 ctn", None)
    assert parsed.outlet_code is None
    assert [c.kind for c in parsed.clarifications] == [ClarificationKind.AMBIGUOUS_OUTLET]
