"""Products named by what they are for, or by a qualifier after a comma, on wording that is not the sixth blind set's
(tests/data/order_forms_real_6.jsonl): "cups for iced coffee", "lids for the iced coffee cups", "sauce cup, the
bigger one", words taken from several of one product's names, and "half a pack"."""

from __future__ import annotations

import pytest

from opsdesk.orders.parsing import OrderParser, load_catalog
from opsdesk.orders.parsing.results import ClarificationKind
from tests.orders.parsing_helpers import items


@pytest.fixture(scope="module")
def parser() -> OrderParser:
    return OrderParser.from_catalog(load_catalog(None))


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # the thing alone names one product; what it is for is the customer's business
        ("spoons for the dessert counter 1 ctn", {"CU-SP": 1}),
        ("12oz cups for takeaway coffee 3 ctn", {"CP-12H": 3}),
        # a word of the use names one of the things: only the cold cup is an iced drink cup
        ("cups for iced coffee 2 ctn", {"CP-16C": 2}),
        # the use names a product, and one of the things fits it: the 16oz cup's dome lid
        ("lids for the iced coffee cups 2 ctn", {"CL-16D": 2}),
        # a qualifier after a comma belongs to the item before it
        ("sauce cup, the bigger one - 2 ctn", {"SC-2": 2}),
        ("kraft bag, the large one 3 bdl", {"BG-KL": 3}),
        ("bag, the plastic one - 6 bdl", {"BG-TS": 6}),
        # words from several of one product's names, then the smaller of its two sizes
        ("round soup tub, the smaller one 2 ctn", {"RC-500": 2}),
    ],
)
def test_a_product_named_by_its_use_or_a_qualifier(parser: OrderParser, line: str, expected: dict[str, int]) -> None:
    parsed = parser.parse(f"Golden Bowl\n{line}")
    assert items(parsed) == expected
    assert parsed.clarifications == ()


def test_a_use_the_catalog_knows_nothing_of_leaves_the_thing_asked_about(parser: OrderParser) -> None:
    parsed = parser.parse("Golden Bowl\nbag for the birthday cakes 3 bdl\nnapkin 1 ctn")
    assert items(parsed) == {"NP-PP": 1}
    assert [c.kind for c in parsed.clarifications] == [ClarificationKind.UNKNOWN_ITEM]


def test_a_use_that_leaves_several_things_asks_which(parser: OrderParser) -> None:
    parsed = parser.parse("Golden Bowl\ncontainer for the soup takeaway 2 ctn")
    assert items(parsed) == {}
    assert [c.kind for c in parsed.clarifications] == [ClarificationKind.AMBIGUOUS_ITEM]
    assert {"RC-500", "RC-750"} <= set(parsed.clarifications[0].candidates)


def test_half_a_pack_is_asked_about_never_read_as_one(parser: OrderParser) -> None:
    parsed = parser.parse("Golden Bowl\nhalf a pack of liners for the pizza boxes\nnapkin 1 ctn")
    assert items(parsed) == {"NP-PP": 1}
    assert [c.kind for c in parsed.clarifications] == [ClarificationKind.UNCLEAR_QUANTITY]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a lid on the next line, or a cover, is the one made for the item ordered before it
        ("12oz cup 3 ctn\nlid 3 ctn", {"CP-12H": 3, "CL-12": 3}),
        ("5 compartment tray 2 ctn\nchopsticks 1 ctn\ncover also 2 ctn", {"MT-5C": 2, "CS-BB": 1, "MT-LID": 2}),
        # "also" before a count does not part the item from it
        ("1000ml rectangular container 6 ctn\nlid also 6", {"RT-1000": 6, "RT-LID": 6}),
        # a Malay unit word after the count is the unit, not a product word
        ("greaseproof liner 3 paket", {"PL-GP": 3}),
    ],
)
def test_a_lid_named_after_its_item(parser: OrderParser, text: str, expected: dict[str, int]) -> None:
    parsed = parser.parse(f"Golden Bowl\n{text}")
    assert items(parsed) == expected
    assert parsed.clarifications == ()


def test_a_lid_after_two_things_it_could_fit_is_asked_about(parser: OrderParser) -> None:
    parsed = parser.parse("Golden Bowl\n8oz cup 2 ctn\n12oz cup 2 ctn\nlid 2 ctn\ncup sleeve 1 ctn")
    assert items(parsed) == {"CP-8H": 2, "CP-12H": 2}  # never a cup for the sleeve because a cup's lid came before
    assert ClarificationKind.AMBIGUOUS_ITEM in {c.kind for c in parsed.clarifications}


def test_a_swap_takes_one_product_out_and_puts_the_other_in(parser: OrderParser) -> None:
    parsed = parser.parse("Golden Bowl\npls swap the wooden fork with wooden spoon, same 2 ctn")
    assert items(parsed) == {"CU-SP": 2}
    assert parsed.removed == ("CU-FK",)
    assert dict(parsed.changes) == {"CU-SP": 2, "CU-FK": 0}
    counted = parser.parse("Golden Bowl\nchange the wooden fork to 3 ctn")  # a new count, not another product
    assert items(counted) == {"CU-FK": 3} and counted.removed == ()


def test_the_draft_replied_to_settles_a_product_named_by_its_kind(parser: OrderParser) -> None:
    assert items(parser.parse("the cover make it 6", replying_to=["RT-1000", "RT-LID"])) == {"RT-LID": 6}
    quoted = "> Draft order for Golden Bowl\n> 1000ml Rectangular Container x 2 ctn\n> 1000ml lid x 2 ctn\n"
    quoted += "lid make it 3"
    assert items(parser.parse(quoted)) == {"RT-LID": 3}  # our own draft quoted back in the reply


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the message says its counts are pieces
        ("Qty (pcs)\nwooden spoon 2000\nchopsticks 2000", {"CU-SP": 2, "CS-BB": 1}),
        # several bare counts, each whole cartons only as pieces: thousands of cartons of each is no one's order
        ("wooden spoon 3000\nround lid 1500", {"CU-SP": 3, "RC-LID": 3}),
    ],
)
def test_bare_counts_of_whole_packs_read_as_pieces(parser: OrderParser, text: str, expected: dict[str, int]) -> None:
    parsed = parser.parse(f"Golden Bowl\n{text}")
    assert items(parsed) == expected
    assert parsed.clarifications == ()
    assert all(item.requested.endswith("pcs") for item in parsed.items)


def test_one_bare_count_of_whole_packs_is_asked_cartons_or_pieces(parser: OrderParser) -> None:
    parsed = parser.parse("Golden Bowl\nwooden spoon 3000\nnapkin 2 ctn")
    assert items(parsed) == {"NP-PP": 2}
    assert [c.kind for c in parsed.clarifications] == [ClarificationKind.UNCLEAR_QUANTITY]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a voice note's pause, and "also" before a count in words
        ("wooden spoon 2 ctn\nuh wooden fork... one carton enough lah", {"CU-SP": 2, "CU-FK": 1}),
        ("chopsticks 1 ctn\nthe lid for the 1000ml container also two carton", {"CS-BB": 1, "RT-LID": 2}),
        # our code's tail with one digit; "1L" of a code stays a size elsewhere
        ("8H - 2 ctn", {"CP-8H": 2}),
        # a size alone is the product whose own name states it, not an accessory whose alias does
        ("the 750ml for the curry 2 ctn", {"RC-750": 2}),
        # "those" are the item ordered before
        ("1000ml container for the noodles 3 ctn\nlids for those 3 ctn", {"RT-1000": 3, "RT-LID": 3}),
        # what the outlet uses it for, in brackets
        ('12" plain box (we use for the pies) 2 bdl', {"PB-12R": 2}),
    ],
)
def test_a_voice_note_a_code_tail_or_an_aside(parser: OrderParser, text: str, expected: dict[str, int]) -> None:
    parsed = parser.parse(f"Golden Bowl\n{text}")
    assert items(parsed) == expected
    assert parsed.clarifications == ()


@pytest.mark.parametrize(
    ("text", "expected", "removed"),
    [
        ("the 1000ml container change to 750ml pls, same 2 ctn", {"RC-750": 2}, ("RT-1000",)),
        ("swap the wooden fork → wooden spoon, 1 ctn", {"CU-SP": 1}, ("CU-FK",)),
    ],
)
def test_a_swap_written_after_the_product_or_with_an_arrow(
    parser: OrderParser, text: str, expected: dict[str, int], removed: tuple[str, ...]
) -> None:
    parsed = parser.parse(f"Golden Bowl\n{text}")
    assert items(parsed) == expected
    assert parsed.removed == removed


def test_a_range_after_the_item_is_asked_never_dropped(parser: OrderParser) -> None:
    parsed = parser.parse("Golden Bowl\nwe want the 500ml containers, maybe three or four carton\nnapkin 1 ctn")
    assert items(parsed) == {"NP-PP": 1}
    assert [(c.kind, c.candidates) for c in parsed.clarifications] == [
        (ClarificationKind.UNCLEAR_QUANTITY, ("RC-500",))
    ]


def test_a_spoken_pause_between_an_item_and_its_count(parser: OrderParser) -> None:
    parsed = parser.parse("Golden Bowl\nthe wooden spoons, erm, two carton - no wait, make it three\nnapkin 1 ctn")
    assert items(parsed) == {"CU-SP": 3, "NP-PP": 1}
    assert parsed.clarifications == ()


def test_a_complaint_about_a_delivery_orders_nothing(parser: OrderParser) -> None:
    parsed = parser.parse("Golden Bowl\nlast delivery you sent us extra 3 ctn of chopsticks, we never ordered")
    assert items(parsed) == {}
    assert "we never ordered" in parsed.remarks[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a size after an item with no size is not that item's ("wooden spoon 2 ctn" / "12oz 1 ctn")
        ("wooden spoon 2 ctn\n12oz 1 ctn\nnapkin 1 ctn", {"CU-SP": 2, "NP-PP": 1}),
        # a count for each of several weeks
        ("wooden spoon 2 ctn x 4 weeks", {"CU-SP": 8}),
    ],
)
def test_a_size_or_a_count_that_belongs_to_no_item_before(
    parser: OrderParser, text: str, expected: dict[str, int]
) -> None:
    assert items(parser.parse(f"Golden Bowl\n{text}")) == expected


def test_a_product_named_without_its_kind_is_not_its_lid(parser: OrderParser) -> None:
    parsed = parser.parse("Golden Bowl\n1000ml rectangular 3 ctn\nrectangle lid 3 ctn\n16oz dome 1 ctn")
    assert items(parsed) == {"RT-1000": 3, "RT-LID": 3, "CL-16D": 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Chinese numerals before a unit
        ("筷子 两箱\n塑料袋 十二捆", {"CS-BB": 2, "BG-TS": 12}),
        # a container named by its size and shape, not its lid; brackets after the count are an aside
        ("750ml round 2 ctn (for the soup)\nround lid 2 ctn", {"RC-750": 2, "RC-LID": 2}),
        ("12oz cup 1 ctn (kopi station)\nwooden spoon 1 ctn if same trip", {"CP-12H": 1, "CU-SP": 1}),
    ],
)
def test_chinese_numerals_shapes_and_asides(parser: OrderParser, text: str, expected: dict[str, int]) -> None:
    parsed = parser.parse(f"Golden Bowl\n{text}")
    assert items(parsed) == expected
    assert parsed.clarifications == ()


def test_a_lid_for_something_named_is_not_the_lid_of_the_line_before(parser: OrderParser) -> None:
    parsed = parser.parse("Golden Bowl\n750ml container 2 ctn\nlid for the dip cup 2 ctn")
    assert items(parsed) == {"RC-750": 2}
