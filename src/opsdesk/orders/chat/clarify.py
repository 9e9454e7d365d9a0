"""Reading an order across turns: what the first message said, and how an answer settles the open questions.

An order under construction is plain data (SKU → quantity, an outlet code, open questions) so it can live in the
flow's checkpoint. An answer is parsed on its own: items it names replace the unsettled ones, an outlet it names
settles the outlet, a number or a size picks among the candidates of a question, and "yes" takes an offer
(e.g. "we have only 40 in stock, would you like 40?").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opsdesk.orders.chat.replies import CUSTOMER_NOTE, Answer, classify
from opsdesk.orders.models import Product
from opsdesk.orders.parsing import Catalog, Clarification, ClarificationKind, OrderParser, OutletSource, ParsedOrder
from opsdesk.orders.parsing.normalise import ODD_NUMBER, clean_message
from opsdesk.orders.parsing.quantities import to_catalog_units
from opsdesk.orders.parsing.segments import read_line

ITEM_KINDS = frozenset(
    {
        ClarificationKind.UNKNOWN_ITEM,
        ClarificationKind.AMBIGUOUS_ITEM,
        ClarificationKind.MISSING_QUANTITY,
        ClarificationKind.UNCLEAR_QUANTITY,
        ClarificationKind.NO_ITEMS,
        "stock",
    }
)
OUTLET_KINDS = frozenset({ClarificationKind.MISSING_OUTLET, ClarificationKind.AMBIGUOUS_OUTLET})
_NUMBER = re.compile(r"\d+")
# "skip that line", "that is our outlet address, not an item", "remove it": the open item questions are dropped.
_SKIP = re.compile(
    r"\b(?:skip|ignore|remove|delete|drop|forget|leave\s+out|leave\s+it|never\s*mind|no\s+need|don'?t\s+need"
    r"|not\s+(?:an?\s+)?(?:item|product|order)|isn'?t\s+(?:an?\s+)?(?:item|product)|address|contact|phone\s+number)\b"
)
# "can I talk to someone", "call me", "a real person": the draft goes to staff.
_PERSON = re.compile(
    r"\b(?:person|human|staff|someone|somebody|agent|operator|colleague|manager|real\s+people|call\s+me"
    r"|speak\s+to|talk\s+to|customer\s+service)\b"
)
_COUNT = re.compile(r'(?<![\d.])\d+(?![\d.]|\s*(?:"|”|inch|in\b|oz|ml|cm|l\b))')  # a number that is not a size


@dataclass(slots=True)
class OrderRequest:
    """What the customer has asked for so far."""

    items: dict[str, int] = field(default_factory=dict)
    outlet_code: str | None = None
    urgent: bool = False
    questions: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_state(self) -> dict[str, Any]:
        return {
            "items": [{"sku": sku, "quantity": quantity} for sku, quantity in self.items.items()],
            "outlet_code": self.outlet_code,
            "urgent": self.urgent,
            "questions": list(self.questions),
            "notes": list(self.notes),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> OrderRequest:
        return cls(
            items={str(i["sku"]): int(i["quantity"]) for i in state.get("items") or []},
            outlet_code=state.get("outlet_code"),
            urgent=bool(state.get("urgent")),
            questions=list(state.get("questions") or []),
            notes=list(state.get("notes") or []),
        )


def wants_person(text: str) -> bool:
    """The customer asks for a person instead of answering."""
    return bool(_PERSON.search(text.lower()))


def wants_skip(text: str) -> bool:
    """The customer asks to leave the asked-about line out ("skip that", "that's our address, not an item")."""
    return bool(_SKIP.search(text.lower()))


def question_key(asked: dict[str, Any]) -> str:
    """What makes two questions the same question: their kind, the words asked about and the candidates."""
    return "|".join([str(asked.get("kind")), str(asked.get("span", "")), ",".join(asked.get("candidates") or [])])


def skip_items(request: OrderRequest) -> OrderRequest:
    """The request without its open item questions; with nothing left to order, one question for what to order."""
    remaining = [q for q in request.questions if q["kind"] not in ITEM_KINDS]
    if not request.items:
        remaining.insert(0, {"kind": ClarificationKind.NO_ITEMS.value, "question": "What would you like to order?"})
    skipped = [str(q.get("span") or q.get("question")) for q in request.questions if q["kind"] in ITEM_KINDS]
    notes = request.notes + [f"left out at the customer's request: {span}" for span in skipped if span]
    return OrderRequest(dict(request.items), request.outlet_code, request.urgent, remaining, notes)


def question(clarification: Clarification) -> dict[str, Any]:
    return {
        "kind": clarification.kind.value,
        "question": clarification.question,
        "span": clarification.span,
        "candidates": list(clarification.candidates),
        "quantity": clarification.quantity,
        "written": clarification.written,
    }


def from_parsed(parsed: ParsedOrder) -> OrderRequest:
    """The request as the first message states it."""
    return OrderRequest(
        items={item.sku: item.quantity for item in parsed.items},
        outlet_code=parsed.outlet_code,
        urgent=parsed.urgent,
        questions=[question(c) for c in parsed.clarifications],
        notes=[*parsed.notes, *(f"{CUSTOMER_NOTE}{remark}" for remark in parsed.remarks)],
    )


def apply_answer(request: OrderRequest, text: str, parser: OrderParser, phone: str | None) -> OrderRequest:
    """The request after the customer's answer to its open questions."""
    parsed = parser.parse(text, phone)
    items = dict(request.items)
    open_items = [q for q in request.questions if q["kind"] in ITEM_KINDS]
    open_outlet = [q for q in request.questions if q["kind"] in OUTLET_KINDS]
    remaining: list[dict[str, Any]] = []
    if parsed.items:
        items.update({item.sku: _answered_quantity(item.sku, item.quantity, text, open_items) for item in parsed.items})
    else:
        for asked in open_items:
            picked = _settle(asked, text, parser.catalog)
            if picked is None:
                remaining.append(asked)
            else:
                items[picked[0]] = picked[1]
    outlet = request.outlet_code
    # A name in the answer wins; the sender's phone only fills an outlet nothing named yet.
    if parsed.outlet is not None and (outlet is None or parsed.outlet.source is not OutletSource.PHONE):
        outlet = parsed.outlet.outlet.code
    if outlet is None:
        remaining += [
            q for q in (question(c) for c in parsed.clarifications) if q["kind"] in OUTLET_KINDS
        ] or open_outlet
    settled = len(open_items) > len([q for q in remaining if q["kind"] in ITEM_KINDS])
    fresh = [
        question(c)
        for c in parsed.clarifications
        if c.kind not in OUTLET_KINDS
        and c.kind is not ClarificationKind.NO_ITEMS
        and not (settled and _only_a_count(c))  # "2000 pcs" answered a question; it names no item of its own
    ]
    remaining += fresh
    items = {sku: qty for sku, qty in items.items() if qty > 0}
    if not items and not any(q["kind"] in ITEM_KINDS for q in remaining):
        remaining.insert(0, {"kind": ClarificationKind.NO_ITEMS.value, "question": "What would you like to order?"})
    return OrderRequest(items, outlet, request.urgent or parsed.urgent, remaining, request.notes + list(parsed.notes))


def _only_a_count(clarification: Clarification) -> bool:
    return clarification.kind is ClarificationKind.UNKNOWN_ITEM and not re.search(
        r"[a-z]", _without_units(clarification.span)
    )


def _answered_quantity(sku: str, quantity: int, text: str, open_items: list[dict[str, Any]]) -> int:
    """ "the 12 inch one" answers "which one?": its "one" is not a quantity when the question had one."""
    if quantity != 1 or _COUNT.search(text.lower()):
        return quantity
    for asked in open_items:
        if sku in (asked.get("candidates") or []) and asked.get("quantity"):
            return int(asked["quantity"])
    return quantity


def _settle(asked: dict[str, Any], text: str, catalog: Catalog) -> tuple[str, int] | None:
    """(sku, quantity) when the answer settles this question."""
    candidates = [sku for sku in asked.get("candidates") or [] if catalog.has_product(sku)]
    quantity = asked.get("quantity")
    numbers = [int(n) for n in _NUMBER.findall(text)]
    if asked["kind"] == "stock":
        if classify(text) in (Answer.YES, Answer.EXPLICIT) and candidates and quantity:
            return candidates[0], int(quantity)
        if candidates and not re.search(r"[a-z]{3,}", _without_units(text)):
            counted = _count_in_units(text, catalog, candidates[0], "")
            return (candidates[0], counted) if counted is not None else None
        return None
    counting = (ClarificationKind.MISSING_QUANTITY, ClarificationKind.UNCLEAR_QUANTITY)
    if asked["kind"] in counting and len(candidates) == 1:
        counted = _count_in_units(text, catalog, candidates[0], str(asked.get("written") or ""))
        return (candidates[0], counted) if counted is not None else None
    if not candidates or not quantity:
        return None
    lowered = text.lower()
    for sku in candidates:
        if sku.lower() in lowered:
            return sku, int(quantity)
    sized = [sku for sku in candidates if any(_has_size(catalog.product(sku).name, n) for n in numbers)]
    if len(sized) == 1:
        return sized[0], int(quantity)
    if len(numbers) == 1 and 1 <= numbers[0] <= len(candidates) and not sized:
        return candidates[numbers[0] - 1], int(quantity)
    words = set(re.findall(r"[a-z]{3,}", lowered))
    worded = [sku for sku in candidates if words & set(re.findall(r"[a-z]{3,}", catalog.product(sku).name.lower()))]
    distinct = [sku for sku in worded if _distinctive(sku, words, candidates, catalog)]
    return (distinct[0], int(quantity)) if len(distinct) == 1 else None


def _count_in_units(text: str, catalog: Catalog, sku: str, asked_about: str) -> int | None:
    """The count an answer gives, in the product's catalog unit: "2000 pcs" → 20 bundles, "20 bundles" and "20" → 20.

    A bare count of whole packs answers a question about pieces in pieces ("250 pcs: 2 or 3 bundles?" — "300").
    None when the answer is not one plain whole count that makes whole units ("½", "-5", "1e9", "250 pcs" of
    100-piece bundles, "2000" that could be bundles or pieces): the question stays open.
    """
    cleaned = clean_message(text).lower()
    if ODD_NUMBER.search(cleaned):
        return None
    counts = [r.quantity for r in read_line(cleaned, 0) if r.quantity is not None]
    if len(counts) != 1:
        return None
    product = catalog.product(sku)
    in_pieces = bool(asked_about) and not re.search(r"[a-z]", _without_pieces(asked_about))
    hint = product.pack_size if in_pieces else None
    units = to_catalog_units(counts[0], product, hint, hint_counts_pieces=True)
    return units.value if units.value else None


def _without_pieces(text: str) -> str:
    return re.sub(r"\b(?:pcs?|pieces?|nos|units?)\b", " ", text.lower())


_UNIT_WORDS = re.compile(r"\b(?:pcs?|pieces?|ctns?|cartons?|bdls?|bundles?|packs?|pkts?|units?|boxes|bags)\b")


def _without_units(text: str) -> str:
    return _UNIT_WORDS.sub(" ", text.lower())


def _has_size(name: str, number: int) -> bool:
    return re.search(rf'(?<!\d){number}\s*(?:"|inch|in\b|oz|ml|cm|”)', name.lower()) is not None


def _distinctive(sku: str, words: set[str], candidates: list[str], catalog: Catalog) -> bool:
    """The answer uses a word of this candidate's name that the other candidates' names lack."""
    own = set(re.findall(r"[a-z]{3,}", catalog.product(sku).name.lower()))
    others: set[str] = set()
    for other in candidates:
        if other != sku:
            others |= set(re.findall(r"[a-z]{3,}", catalog.product(other).name.lower()))
    return bool(words & (own - others))


def stock_questions(wanted: Mapping[str, int], products: Mapping[str, Product]) -> list[dict[str, Any]]:
    """Questions for items no longer sold, below their minimum order, or beyond the stock (offering what is left)."""
    asked: list[dict[str, Any]] = []
    for sku, quantity in wanted.items():
        product = products.get(sku)
        if product is None or not product.active:
            text = f"{sku} is no longer sold. What would you like instead?"
            asked.append({"kind": "unknown_item", "question": text, "candidates": [], "quantity": None})
        elif quantity < product.min_order:
            text = f"The minimum order for {product.name} is {product.min_order} {product.unit}. How many?"
            asked.append({"kind": "stock", "question": text, "candidates": [sku], "quantity": product.min_order})
        elif quantity > product.stock and product.stock <= 0:
            text = f"{product.name} is out of stock right now. Would you like something else instead?"
            asked.append({"kind": "unknown_item", "question": text, "candidates": [], "quantity": None})
        elif quantity > product.stock:
            text = f"We have only {product.stock} {product.unit} of {product.name}. Would you like {product.stock}?"
            asked.append({"kind": "stock", "question": text, "candidates": [sku], "quantity": product.stock})
    return asked
