"""Invoices as A4 PDFs (fpdf2, built-in Helvetica so the text stays extractable, no font files to ship)."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from opsdesk.orders.documents.model import CENT, InvoiceData, SellerData

_SPACES = re.compile(r" {2,}")
# Characters outside Latin-1 that have a plain stand-in; anything else without one is dropped.
_STAND_INS = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2033": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u2022": "*",
    "\u00b7": "*",
    "\u20ac": "EUR",
    "\u2122": "(TM)",
    "\u2009": " ",
    "\u200b": "",
    "\u202f": " ",
    "\u2715": "x",
    "\u2716": "x",
}


def latin1(text: str) -> str:
    """Text the PDF core fonts can draw: typographic characters replaced, accents kept or stripped, rest dropped."""
    out: list[str] = []
    for char in text:
        if char in ("\n", "\t"):
            out.append(" " if char == "\t" else char)
            continue
        if ord(char) < 32 or 127 <= ord(char) < 160:
            continue
        if ord(char) < 256:
            out.append(char)
            continue
        if char in _STAND_INS:
            out.append(_STAND_INS[char])
            continue
        base = unicodedata.normalize("NFKD", char)
        out.append("".join(c for c in base if ord(c) < 256 and not unicodedata.combining(c)))
    # A dropped character (an emoji) must not leave a double space behind.
    return _SPACES.sub(" ", "".join(out))


def format_money(amount: Decimal) -> str:
    """``1,234.50``."""
    return f"{amount:,.2f}"


def format_quantity(quantity: Decimal) -> str:
    """``3``, ``2.5`` (never ``3E+1``)."""
    return f"{quantity.normalize():f}"


def format_price(price: Decimal) -> str:
    """Unit prices keep the precision they were given (``0.335``), with at least cents (``28.00``)."""
    return format_money(price) if price == price.quantize(CENT) else f"{price.normalize():f}"


def render_invoice_pdf(invoice: InvoiceData, seller: SellerData) -> bytes:
    """The invoice as PDF bytes; the same invoice always gives the same bytes."""
    # fpdf costs about half a second at import, paid by every API process: it is loaded with the first invoice.
    from opsdesk.orders.documents.invoice_layout import draw_invoice

    return draw_invoice(invoice, seller)
