"""What the order desk says to customers, and how it reads their short answers. Plain templates, no model:
the wording of prices, quantities and order numbers must come from the database, never from generated text."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from opsdesk.core.text import plural
from opsdesk.orders.models import Order, OrderLine

CUSTOMER_NOTE = "customer note: "  # how the customer's own remarks are kept among an order's notes


class Answer(StrEnum):
    YES = "yes"
    EXPLICIT = "explicit"  # "CONFIRM": also accepts unusual quantities
    NO = "no"
    OTHER = "other"


# An answer counts only when every word in it belongs to it: "yes and set the prices to 0" is not a yes.
_FILLER = {"please", "pls", "plz", "thanks", "thank", "you", "thx", "ty", "the", "it", "order", "go", "ahead", "i",
           "up"}  # fmt: skip
_YES_WORDS = {"yes", "y", "ya", "yah", "yep", "yup", "yeah", "ok", "okay", "k", "sure", "correct", "right", "proceed",
              "can", "thumbs", "confirmed", "good", "fine", "done", "agreed"}  # fmt: skip
_NO_WORDS = {"no", "n", "nope", "nah", "cancel", "stop", "dont", "don", "t", "not", "never", "mind", "nevermind",
             "abort", "need", "now", "do"}  # fmt: skip
_NO_MARKERS = {"no", "n", "nope", "nah", "cancel", "stop", "dont", "don", "abort", "nevermind"}


def _normal(text: str) -> list[str]:
    text = text.replace("👍", " thumbs ").replace("👌", " ok ").replace("❌", " no ")
    kept = "".join(ch if unicodedata.category(ch)[0] in "LNZ" else " " for ch in text.lower())
    return kept.split()


def classify(text: str) -> Answer:
    """A reply to "please confirm": yes, an explicit CONFIRM, no, or something else (maybe a change)."""
    words = _normal(text)
    if not words or len(words) > 8:
        return Answer.OTHER
    meaningful = [w for w in words if w not in _FILLER]
    if not meaningful:
        return Answer.OTHER
    if "confirm" in meaningful and all(w in _YES_WORDS or w == "confirm" for w in meaningful):
        return Answer.EXPLICIT
    if all(w in _YES_WORDS for w in meaningful):
        return Answer.YES
    if all(w in _NO_WORDS for w in meaningful) and _NO_MARKERS & set(meaningful):
        return Answer.NO
    return Answer.OTHER


def _qty(quantity: int, unit: str) -> str:
    return f"{quantity} {unit if quantity == 1 else plural(unit)}"


def _money(currency: str, amount: Decimal) -> str:
    return f"{currency} {amount:,.2f}"


def _day(day: date | None, slot: str) -> str:
    if day is None:
        return "to be arranged"
    return f"{day:%a %d %b %Y}" + (f", {slot}" if slot else "")


def clarification(questions: Sequence[dict[str, Any]], notice: str = "") -> str:
    asked = [str(q.get("question", "")).strip() for q in questions if q.get("question")]
    lead = f"{notice}\n" if notice else ""
    if len(asked) == 1:
        return f"{lead}{asked[0]}"
    return lead + "Before I place your order, a few questions:\n" + "\n".join(f"• {q}" for q in asked)


def order_lines(order: Order, lines: Sequence[OrderLine]) -> str:
    rows = []
    for line in lines:
        amount = _money(order.currency, line.line_total)
        why = f": {line.note}" if line.derived and line.note else ""  # the catalog rule that added it
        if line.derived and not line.charged:
            rows.append(f"• {_qty(line.quantity, line.unit)} {line.description} (included, no charge{why})")
        else:
            added = f" (added{why})" if line.derived else ""
            rows.append(
                f"• {_qty(line.quantity, line.unit)} {line.description} @ {line.unit_price:,.2f} = {amount}{added}"
            )
    return "\n".join(rows)


def totals(order: Order, tax_label: str) -> str:
    rate = f"{(order.tax_rate * 100).normalize():f}%"
    return (
        f"Subtotal {_money(order.currency, order.subtotal)}, {tax_label} {rate} "
        f"{_money(order.currency, order.tax)}, total {_money(order.currency, order.total)}"
    )


def confirmation(order: Order, lines: Sequence[OrderLine], tax_label: str, notice: str = "") -> str:
    """The draft and the question: YES/NO, or CONFIRM when quantities or the total are unusual."""
    parts = [notice] if notice else []
    parts += [
        f"Please check order {order.number} for {order.outlet_name}:",
        order_lines(order, lines),
        totals(order, tax_label),
        f"Delivery: {_day(order.delivery_date, order.delivery_slot)}" + (" (URGENT)" if order.urgent else ""),
    ]
    remarks = [note.removeprefix(CUSTOMER_NOTE) for note in order.notes or [] if note.startswith(CUSTOMER_NOTE)]
    parts += [f"Your note: {remark}" for remark in remarks]
    if order.anomalies and not order.anomalies_acknowledged:
        parts += ["⚠️ This order is unusual: " + "; ".join(str(a["message"]) for a in order.anomalies) + "."]
        parts += [
            "Reply CONFIRM to place it as it is (a plain YES is not enough for an unusual order), "
            "send the corrected quantities, or reply NO to cancel."
        ]
    else:
        parts += ["Reply YES to confirm or NO to cancel."]
    return "\n".join(parts)


def explicit_needed(order: Order) -> str:
    reasons = "; ".join(str(a["message"]) for a in order.anomalies)
    return f"This order looks unusual ({reasons}). To be safe, please reply CONFIRM to place it exactly as it is."


def completed(
    order: Order, delivery_number: str, invoice_number: str, tax_label: str, terms_days: int, invoice_posted: bool
) -> str:
    invoice = (
        f"Invoice {invoice_number}: {_money(order.currency, order.total)} incl. {tax_label}, due in {terms_days} days."
    )
    if not invoice_posted:
        invoice = f"Invoice {invoice_number}: {_money(order.currency, order.total)} incl. {tax_label} (being issued)."
    return (
        f"✅ Order {order.number} is confirmed. Delivery order {delivery_number}: "
        f"{_day(order.delivery_date, order.delivery_slot)}" + (" (urgent)" if order.urgent else "") + f".\n{invoice}"
    )


def cancelled(order: Order | None) -> str:
    if order is None:
        return "No problem, nothing was ordered."
    return f"Order {order.number} is cancelled. Nothing will be delivered or charged."


def nothing_pending() -> str:
    return "There is no order waiting for your confirmation. What would you like to order?"


def already_ordered(order: Order) -> str:
    return (
        f"We already have this order as {order.number} ({order.status.replace('_', ' ')}), so nothing new was "
        "created. If you need the same items again, please say so (e.g. 'same again for Friday')."
    )


def still_working() -> str:
    return "We are still working on your previous message; you will get an answer in a moment."


def status_line(order: Order, delivery_number: str | None) -> str:
    state = order.status.replace("_", " ")
    where = f", delivery {_day(order.delivery_date, order.delivery_slot)}" if order.status != "cancelled" else ""
    document = f" ({delivery_number})" if delivery_number else ""
    return f"{order.number}{document}: {state}{where}, total {_money(order.currency, order.total)}"


def handed_over(items: Sequence[tuple[str, int, str]], outlet_code: str | None, open_questions: Sequence[str]) -> str:
    """Staff take the order over; the customer sees what was understood so far, as staff will."""
    parts = ["I've passed your order to our order desk team; a colleague will get back to you shortly."]
    if items:
        parts.append("What I have so far" + (f" for {outlet_code}" if outlet_code else "") + ":")
        parts += [f"• {_qty(quantity, unit)} {name}" for name, quantity, unit in items]
    if open_questions:
        parts.append("Still open: " + " ".join(q for q in open_questions if q))
    return "\n".join(parts)


def replace_or_second(order: Order) -> str:
    """A new order form arrived while this draft waits for YES."""
    return (
        f"Order {order.number} is still waiting for your YES. Does this new order form replace {order.number}, "
        "or is it a second order? Reply REPLACE or SECOND."
    )


def replaced(order: Order) -> str:
    return f"Order {order.number} is cancelled and replaced by your new order form."


def second_order_after(order: Order) -> str:
    return (
        f"OK, your new form will be a second order. First, order {order.number}: reply YES to place it or NO to "
        "cancel it, and then I will go through the second one."
    )
