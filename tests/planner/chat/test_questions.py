"""Reading a planner's question without a language model: the kind of question, the items it names (typos, plurals,
F-150 written as f150), several items for a name that fits several, and a what-if's change with its range checked."""

from __future__ import annotations

from collections import Counter

import pytest

from opsdesk.conversation.intents import load_examples
from opsdesk.orders.chat.solution import INTENT_EXAMPLES as ORDER_EXAMPLES
from opsdesk.planner.chat import INTENT_EXAMPLES
from opsdesk.planner.chat_questions import (
    ItemRef,
    Kind,
    constraint_changes,
    find_subject,
    loose_words,
    parse_what_if,
    question_kind,
    stated_count,
)
from opsdesk.planner.demo.catalog import CONFIGS, LINES

ITEMS = [ItemRef(config.sku, config.line, config.trim) for config in CONFIGS]
LINE_NAMES = [line.name for line in LINES]
CONSTRAINTS: dict[str, object] = {"lot_space": 160, "budget": 1_600_000.0, "min_days_of_supply": 21}
ALLOCATION = {"Bronco": 3, "Mustang": 2}


def _keys(text: str) -> list[str]:
    subject = find_subject(text, ITEMS)
    return [] if subject is None else [item.key for item in subject.items]


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("how many Explorer XLT 4WD should I order?", ["EXP-XLT-4WD"]),
        ("how many Exploer Timberline?", ["EXP-TMB-4WD"]),
        ("what about the f150 lariat", ["F15-LAR-CC"]),
        ("and the F-150 Lariat SuperCrew?", ["F15-LAR-CC"]),
        ("explain the EXP-ST-4WD line", ["EXP-ST-4WD"]),
        ("how many big bend 4-door", ["BRO-BB-4DR"]),
        ("Maverick Lobo?", ["MAV-LOBO-FWD"]),
    ],
)
def test_an_item_is_found_by_its_line_and_trim_words(text: str, keys: list[str]) -> None:
    subject = find_subject(text, ITEMS)
    assert subject is not None and not subject.ambiguous
    assert _keys(text) == keys


def test_a_line_name_alone_is_a_question_about_the_whole_line() -> None:
    subject = find_subject("why only 2 Broncos?", ITEMS)
    assert subject is not None and subject.is_line and subject.lines == ("Bronco",)
    assert {item.key for item in subject.items} == {c.sku for c in CONFIGS if c.line == "Bronco"}
    assert stated_count("why only 2 Broncos?") == 2
    assert stated_count("why so few F-150 Lariat") is None, "a model number is not a count"


def test_a_name_that_fits_several_items_is_ambiguous_and_an_unknown_one_is_none() -> None:
    xlt = find_subject("how many Explorer XLT should I order?", ITEMS)
    assert xlt is not None and xlt.ambiguous
    assert [item.key for item in xlt.items] == ["EXP-XLT-RWD", "EXP-XLT-4WD"]
    everywhere = find_subject("how many XLT", ITEMS)
    assert everywhere is not None and everywhere.ambiguous and len(everywhere.items) == 6
    assert find_subject("how many Ranger should I order?", ITEMS) is None
    assert loose_words("how many Ranger should I order?") == "Ranger"
    assert loose_words("what should I order this week?") == ""


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("how many Explorer XLT should I order?", Kind.quantity),
        ("what should I order this week?", Kind.quantity),
        ("why only 2 Broncos?", Kind.explain),
        ("why is the lot space limiting us", Kind.explain),
        ("what if lot space is 140?", Kind.what_if),
        ("suppose the Bronco allocation is 5", Kind.what_if),
        ("hello", Kind.other),
    ],
)
def test_the_kind_of_question_is_read_by_rules(text: str, kind: Kind) -> None:
    assert question_kind(text, "general_query") == kind


def test_a_what_if_becomes_constraint_changes_from_the_base_run() -> None:
    lot = constraint_changes(parse_what_if("what if lot space is 140?", LINE_NAMES), CONSTRAINTS, ALLOCATION)
    assert lot.changes == {"lot_space": 140.0} and lot.said == ("lot space 140 spaces (was 160)",)
    both = parse_what_if("what if budget is 20% lower and lot space 150", LINE_NAMES)
    assert constraint_changes(both, CONSTRAINTS, ALLOCATION).changes == {"budget": 1_280_000.0, "lot_space": 150.0}
    money = parse_what_if("what if the budget were 1.2m", LINE_NAMES)
    assert constraint_changes(money, CONSTRAINTS, ALLOCATION).changes == {"budget": 1_200_000.0}
    ford = constraint_changes(parse_what_if("what if Ford gives us 6 Mustangs", LINE_NAMES), CONSTRAINTS, ALLOCATION)
    assert ford.changes == {"allocation": {"Bronco": 3, "Mustang": 6}}, "the other lines keep their allocation"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("what if lot space is -5?", "must be between 1 and 1,000,000 spaces"),
        ("what if lot space is 5000000?", "must be between 1 and 1,000,000 spaces"),
        ("what if the budget is 0", "must be between 1 and"),
        ("what if lot space is huge?", "Give a number"),
        ("what if the allocation is 4", "Which model line's allocation?"),
        ("what if Ford gives us 3 Rangers", "Which model line's allocation?"),
    ],
)
def test_a_what_if_out_of_range_or_unclear_is_refused_in_words(text: str, words: str) -> None:
    resolved = constraint_changes(parse_what_if(text, LINE_NAMES), CONSTRAINTS, ALLOCATION)
    assert not resolved.changes and resolved.problem is not None and words in resolved.problem


def test_the_planner_examples_teach_its_intents_and_the_order_desk_never_sees_them() -> None:
    counts = Counter(example.intent for example in load_examples(INTENT_EXAMPLES))
    assert all(counts[kind.value] >= 15 for kind in (Kind.quantity, Kind.explain, Kind.what_if))
    assert counts["greeting"] and counts["general_query"]
    assert not {example.intent for example in load_examples(ORDER_EXAMPLES)} & {k.value for k in Kind}
