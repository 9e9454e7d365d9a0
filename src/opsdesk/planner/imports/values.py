"""One cell → one typed value, or the reason it cannot be one (numbers with currency signs and thousands
separators, accounting negatives "(12)", percentages, yes/no)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from opsdesk.planner.imports.dates import Cell

_CURRENCY = re.compile(r"[$€£¥₹\s]|^(?:usd|eur|gbp|nok|sgd|aud|cad)|(?:usd|eur|gbp|nok|sgd|aud|cad)$", re.IGNORECASE)
LARGEST = Decimal(10) ** 11  # what Numeric(14, 3) holds; smaller columns pass their own limit
_LARGEST_INTEGER = 2**31 - 1
_TRUE = {"1", "true", "yes", "y", "active", "enabled", "x"}
_FALSE = {"0", "false", "no", "n", "inactive", "disabled"}


class BadValue(ValueError):
    """The cell does not hold what its column needs; the message says what it holds instead."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def is_blank(cell: Cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def text(cell: Cell, limit: int | None) -> str:
    """Cell as text; whole numbers from a workbook lose their '.0' so SKU 1001 stays '1001'."""
    if isinstance(cell, float) and cell.is_integer():
        value = str(int(cell))
    elif isinstance(cell, datetime | date):
        value = cell.isoformat()
    else:
        value = str(cell).strip()
    if limit is not None and len(value) > limit:
        raise BadValue(f"is {len(value)} characters long; at most {limit} fit", "too_long")
    return value


def number(cell: Cell, limit: Decimal = LARGEST) -> Decimal:
    """A number, from a numeric cell or text such as '$1,234.50', '1.234,50', '(12)' or '12 %' (→ 12)."""
    if isinstance(cell, bool | date | datetime):
        raise BadValue(f"{cell!r} is not a number", "not_a_number")
    if isinstance(cell, int | float):
        result = Decimal(str(cell))
    else:
        raw = str(cell).strip()
        body = _CURRENCY.sub("", raw).removesuffix("%")
        negative = body.startswith("(") and body.endswith(")")
        body = body.strip("()")
        if "," in body and "." in body:
            decimal_comma = body.rfind(",") > body.rfind(".")
            body = body.replace(".", "").replace(",", ".") if decimal_comma else body.replace(",", "")
        elif "," in body:
            body = body.replace(",", "") if re.fullmatch(r"-?\d{1,3}(,\d{3})+", body) else body.replace(",", ".")
        try:
            result = Decimal(body)
        except InvalidOperation:
            raise BadValue(f"{raw!r} is not a number", "not_a_number") from None
        if negative:
            result = -result
    if not result.is_finite():
        raise BadValue(f"{cell!r} is not a number", "not_a_number")
    if result.copy_abs() >= limit:
        raise BadValue(f"{cell!r} is too large (the most is under {limit:,})", "too_large")
    return result


def quantity(cell: Cell) -> Decimal:
    value = number(cell)
    if value < 0:
        raise BadValue(f"is negative ({value}); a quantity is 0 or more", "negative_quantity")
    return value


def integer(cell: Cell, minimum: int | None = 0) -> int:
    value = number(cell, Decimal(_LARGEST_INTEGER))
    if value != value.to_integral_value():
        raise BadValue(f"{value} is not a whole number", "not_a_whole_number")
    if minimum is not None and value < minimum:
        code = "negative_quantity" if minimum == 0 else "below_minimum"
        raise BadValue(f"is {value}; it must be {minimum} or more", code)
    return int(value)


def non_negative(cell: Cell, limit: Decimal = LARGEST) -> Decimal:
    value = number(cell, limit)
    if value < 0:
        raise BadValue(f"is negative ({value})", "negative_value")
    return value


def share(cell: Cell) -> tuple[Decimal, bool]:
    """A share and whether it was written as a percentage ('12.5 %'); plain numbers are scaled by the caller."""
    percent = isinstance(cell, str) and cell.strip().endswith("%")
    value = number(cell, Decimal(1000))
    if value < 0:
        raise BadValue(f"is negative ({value}); a share is 0 or more", "negative_value")
    return (value / 100 if percent else value), percent


def boolean(cell: Cell) -> bool:
    if isinstance(cell, bool):
        return cell
    lowered = text(cell, None).lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise BadValue(f"{cell!r} is not yes or no", "not_yes_or_no")
