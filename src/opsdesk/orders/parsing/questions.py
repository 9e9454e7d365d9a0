"""The wording of clarifying questions. Plain English; the conversation layer may rephrase it."""

from __future__ import annotations

import re
from collections.abc import Sequence

from opsdesk.core.text import plural
from opsdesk.orders.parsing.catalog import Outlet, Product
from opsdesk.orders.parsing.results import Clarification, ClarificationKind
from opsdesk.orders.parsing.segments import Quantity, Reading


def ask(
    kind: ClarificationKind, question: str, reading: Reading, skus: Sequence[str] = (), quantity: Quantity | None = None
) -> Clarification:
    """A question about one item mention, carrying its span and (when given) its quantity."""
    whole = int(quantity.value) if quantity and quantity.value == int(quantity.value) else None
    return Clarification(kind, question, reading.span, tuple(skus), whole, quantity.written if quantity else "")


def missing_quantity(reading: Reading, products: Sequence[Product]) -> Clarification:
    unit = products[0].unit if len({p.unit for p in products}) == 1 else "unit"
    what = products[0].name if len(products) == 1 else f"“{reading.span}”"
    question = f"How many {plural(unit)} of {what} would you like?"
    return ask(ClarificationKind.MISSING_QUANTITY, question, reading, [p.sku for p in products])


def odd_quantity(reading: Reading, products: Sequence[Product]) -> Clarification:
    """ "-5", "0x10", "1e9", "3-4 ctn": a count we will not guess at."""
    unit = products[0].unit if len({p.unit for p in products}) == 1 else "unit"
    what = products[0].name if len(products) == 1 else f"“{reading.span}”"
    if re.search(r"\d\s*(?:-|~|to|or)\s*\d", reading.odd_number):  # a range: "3-4 ctn"
        question = f"You wrote “{reading.odd_number}”. Exactly how many {plural(unit)} of {what} would you like?"
    else:
        question = (
            f"“{reading.odd_number}” is not a count we can read. How many {plural(unit)} of {what} would you like?"
        )
    return ask(ClarificationKind.UNCLEAR_QUANTITY, question, reading, [p.sku for p in products])


def ambiguous_item(reading: Reading, products: Sequence[Product], quantity: Quantity | None) -> Clarification:
    question = f"Which one do you mean by “{reading.span}”: {either([p.name for p in products])}?"
    return ask(ClarificationKind.AMBIGUOUS_ITEM, question, reading, [p.sku for p in products], quantity)


def unknown_item(reading: Reading, alternatives: Sequence[Product], quantity: Quantity) -> Clarification:
    if not reading.content_words:
        question = f"Which item is “{reading.span}” for?"
    elif alternatives:
        question = f"We don't carry “{reading.span}”. We have {either([p.name for p in alternatives])}. Which one?"
    else:
        question = f"We could not find “{reading.span}” in our catalog. Could you tell us the item name?"
    return ask(ClarificationKind.UNKNOWN_ITEM, question, reading, [p.sku for p in alternatives], quantity)


def discontinued_item(reading: Reading, product: Product, quantity: Quantity) -> Clarification:
    question = f"Sorry, {product.name} is no longer available. Which item should we send instead?"
    return ask(ClarificationKind.UNKNOWN_ITEM, question, reading, (), quantity)


def which_outlet(outlets: Sequence[Outlet]) -> Clarification:
    names = either([o.name for o in outlets])
    return Clarification(
        ClarificationKind.AMBIGUOUS_OUTLET,
        f"Which outlet is this order for: {names}?",
        candidates=tuple(o.code for o in outlets),
    )


def missing_outlet(unknown_name: str | None) -> Clarification:
    if unknown_name:
        question = f"We could not find the outlet “{unknown_name}”. Which outlet is this order for?"
        return Clarification(ClarificationKind.MISSING_OUTLET, question, span=unknown_name)
    return Clarification(ClarificationKind.MISSING_OUTLET, "Which outlet is this order for?")


def nothing_to_order(usual: bool) -> Clarification:
    question = "Should we repeat your usual order?" if usual else "What would you like to order?"
    return Clarification(ClarificationKind.NO_ITEMS, question)


def either(names: Sequence[str]) -> str:
    """ "A", "A or B", "A, B or C"."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
