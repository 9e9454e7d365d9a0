"""Document numbers: ``DO-YYYYMMDD-NNNNN`` and ``INV-YYYYMMDD-NNNNN`` (prefix, date, a per-day sequence)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from opsdesk.core.errors import InvalidInput

MAX_SEQUENCE = 99_999
_PATTERN = re.compile(r"^(?P<prefix>DO|INV)-(?P<day>\d{8})-(?P<seq>\d{5})$")


class DocumentKind(StrEnum):
    DELIVERY_ORDER = "DO"
    INVOICE = "INV"


class DocumentError(InvalidInput):
    """Document data that cannot make a valid delivery order or invoice."""


class DocumentNumberError(DocumentError):
    """A document number that does not follow ``PREFIX-YYYYMMDD-NNNNN``."""


@dataclass(frozen=True, slots=True, order=True)
class DocumentNumber:
    """A parsed document number; ``str()`` gives it back in its canonical form."""

    kind: DocumentKind
    day: date
    sequence: int

    def __str__(self) -> str:
        return format_number(self.kind, self.day, self.sequence)


def format_number(kind: DocumentKind, day: date, sequence: int) -> str:
    """``DO-20250301-00042`` for ``(DELIVERY_ORDER, 2025-03-01, 42)``; the sequence runs 1…99999 per day."""
    if not 1 <= sequence <= MAX_SEQUENCE:
        raise DocumentNumberError(f"sequence {sequence} is outside 1…{MAX_SEQUENCE}")
    return f"{kind.value}-{day:%Y%m%d}-{sequence:05d}"


def delivery_order_number(day: date, sequence: int) -> str:
    """The delivery order number for a day and sequence."""
    return format_number(DocumentKind.DELIVERY_ORDER, day, sequence)


def invoice_number(day: date, sequence: int) -> str:
    """The invoice number for a day and sequence."""
    return format_number(DocumentKind.INVOICE, day, sequence)


def parse_number(text: str, kind: DocumentKind | None = None) -> DocumentNumber:
    """Reads a document number, optionally insisting on its kind; raises DocumentNumberError when malformed."""
    match = _PATTERN.match(text.strip())
    if match is None:
        example = f"{(kind or DocumentKind.DELIVERY_ORDER).value}-20250301-00001"
        raise DocumentNumberError(f"{text!r} is not a document number like {example}")
    found = DocumentKind(match["prefix"])
    if kind is not None and found is not kind:
        raise DocumentNumberError(f"{text!r} is not a {kind.value} number")
    try:
        day = date(int(match["day"][:4]), int(match["day"][4:6]), int(match["day"][6:]))
    except ValueError as exc:
        raise DocumentNumberError(f"{text!r} has an impossible date") from exc
    sequence = int(match["seq"])
    if sequence < 1:
        raise DocumentNumberError(f"{text!r} has sequence 0; sequences start at 1")
    return DocumentNumber(found, day, sequence)


def is_number(text: str, kind: DocumentKind | None = None) -> bool:
    """Whether ``text`` is a well-formed document number (of ``kind`` when given)."""
    try:
        parse_number(text, kind)
    except DocumentNumberError:
        return False
    return True
