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

from opsdesk.orders.models import Product
from opsdesk.orders.parsing import Catalog, Clarification, ClarificationKind, OrderParser, OutletSource, ParsedOrder
from opsdesk.orders.replies import Answer, classify

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


def question(clarification: Clarification) -> dict[str, Any]:
    return {
        "kind": clarification.kind.value,
        "question": clarification.question,
        "span": clarification.span,
        "candidates": list(clarification.candidates),
        "quantity": clarification.quantity,
    }


def from_parsed(parsed: ParsedOrder) -> OrderRequest:
    """The request as the first message states it."""
    return OrderRequest(
        items={item.sku: item.quantity for item in parsed.items},
        outlet_code=parsed.outlet_code,
        urgent=parsed.urgent,
        questions=[question(c) for c in parsed.clarifications],
        notes=list(parsed.notes),
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
    fresh = [
        question(c)
        for c in parsed.clarifications
        if c.kind not in OUTLET_KINDS and c.kind is not ClarificationKind.NO_ITEMS
    ]
    remaining += fresh
    items = {sku: qty for sku, qty in items.items() if qty > 0}
    if not items and not any(q["kind"] in ITEM_KINDS for q in remaining):
        remaining.insert(0, {"kind": ClarificationKind.NO_ITEMS.value, "question": "What would you like to order?"})
    return OrderRequest(items, outlet, request.urgent or parsed.urgent, remaining, request.notes + list(parsed.notes))


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
        if candidates and len(numbers) == 1 and not re.search(r"[a-z]{3,}", text.lower()):
            return candidates[0], numbers[0]
        return None
    if asked["kind"] == ClarificationKind.MISSING_QUANTITY and len(candidates) == 1 and len(numbers) == 1:
        return candidates[0], numbers[0]
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
