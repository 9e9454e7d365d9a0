"""What the parser returns: typed line items, the outlet and how it was found, and the questions to ask."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from opsdesk.orders.parsing.catalog import Outlet


class ClarificationKind(StrEnum):
    UNKNOWN_ITEM = "unknown_item"  # a quantity for something the catalog does not have (or no longer sells)
    AMBIGUOUS_ITEM = "ambiguous_item"  # several products fit ("pizza box" without a size); candidates listed
    MISSING_QUANTITY = "missing_quantity"  # a product without a number
    UNCLEAR_QUANTITY = "unclear_quantity"  # pieces that are not whole packs, "600" that may be boxes or bundles
    MISSING_OUTLET = "missing_outlet"  # neither the text nor the sender's phone names an outlet
    AMBIGUOUS_OUTLET = "ambiguous_outlet"  # "Slice Republic" has three outlets; candidates listed
    NO_ITEMS = "no_items"  # nothing to order was found (empty, emoji only, chit-chat)


class OutletSource(StrEnum):
    TEXT = "text"  # named in the message
    PHONE = "phone"  # the sender's registered phone
    TEXT_AND_PHONE = "text+phone"  # the message named a chain and the phone picked the outlet


@dataclass(frozen=True, slots=True)
class LineItem:
    """One product the customer asked for, with the quantity in the product's catalog unit."""

    sku: str
    quantity: int
    unit: str
    span: str
    confidence: float
    requested: str = ""  # the quantity as written when it was converted, e.g. "200 pcs"


@dataclass(frozen=True, slots=True)
class DerivedItem:
    """An item added by a catalog rule (e.g. liners that come with premium boxes), not by the customer."""

    sku: str
    quantity: int
    unit: str
    rule: str
    charged: bool
    note: str = ""


@dataclass(frozen=True, slots=True)
class Clarification:
    """A question for the customer. ``candidates`` are SKUs (items) or outlet codes (outlets)."""

    kind: ClarificationKind
    question: str
    span: str = ""
    candidates: tuple[str, ...] = ()
    quantity: int | None = None  # the number the question is about, when there is one
    written: str = ""  # that quantity as written, e.g. "250 pcs"


@dataclass(frozen=True, slots=True)
class OutletMatch:
    outlet: Outlet
    source: OutletSource
    confidence: float
    span: str = ""


@dataclass(frozen=True, slots=True)
class ParsedOrder:
    """The parser's reading of one message. Nothing here is a guess: doubts are in ``clarifications``."""

    items: tuple[LineItem, ...]
    outlet: OutletMatch | None
    urgent: bool
    clarifications: tuple[Clarification, ...]
    derived_items: tuple[DerivedItem, ...] = ()
    notes: tuple[str, ...] = ()  # what the parser did that staff should know ("2000 read as pieces = 20 bundles")
    remarks: tuple[str, ...] = ()  # the customer's own notes ("need delivery tomorrow if possible!"), kept on the order
    removed: tuple[str, ...] = ()  # SKUs the message takes out ("cancel the liners"): of its own lines or of a draft

    @property
    def needs_clarification(self) -> bool:
        return bool(self.clarifications)

    @property
    def outlet_code(self) -> str | None:
        return self.outlet.outlet.code if self.outlet else None

    @property
    def changes(self) -> list[tuple[str, int]]:
        """What the message does to a waiting draft: new quantities, and 0 for each line it takes out."""
        return [(item.sku, item.quantity) for item in self.items] + [(sku, 0) for sku in self.removed]

    @property
    def clarification_kinds(self) -> list[str]:
        return sorted({c.kind.value for c in self.clarifications})

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (for logs, the API and the order flow's state)."""
        return {
            "outlet": None
            if self.outlet is None
            else {
                "code": self.outlet.outlet.code,
                "name": self.outlet.outlet.name,
                "source": self.outlet.source.value,
                "confidence": self.outlet.confidence,
                "span": self.outlet.span,
            },
            "items": [
                {
                    "sku": i.sku,
                    "quantity": i.quantity,
                    "unit": i.unit,
                    "span": i.span,
                    "confidence": i.confidence,
                    "requested": i.requested,
                }
                for i in self.items
            ],
            "derived_items": [
                {
                    "sku": d.sku,
                    "quantity": d.quantity,
                    "unit": d.unit,
                    "rule": d.rule,
                    "charged": d.charged,
                    "note": d.note,
                }
                for d in self.derived_items
            ],
            "urgent": self.urgent,
            "clarifications": [
                {
                    "kind": c.kind.value,
                    "question": c.question,
                    "span": c.span,
                    "candidates": list(c.candidates),
                    "quantity": c.quantity,
                    "written": c.written,
                }
                for c in self.clarifications
            ],
            "notes": list(self.notes),
            "remarks": list(self.remarks),
        }
