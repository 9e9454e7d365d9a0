"""Sizes as single tokens: 12", 12 inch, 12in → ``size_in_12``; 500 ml → ``size_vol_500ml``.

Three compartments become ``size_comp_3``, "large" becomes ``size_letter_l`` and "XL" ``size_letter_xl``.

A size is never a quantity, and two sizes match only when their tokens are equal, never fuzzily.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

SIZE_PREFIX: Final = "size_"

_INCH_WORDS = r"(?:pizza|piza|pizzas|box|boxes|bx|regular|reg|premium|prem|kraft|normal|plain|white|liner|liners)"
_TRAY_WORDS = r"(?:meal|tray|box|bento|container|lid)"
_PATTERNS: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    # "5x8" labo bags, "17x19in": two dimensions written together (never "0x10", never with spaces: "5 x 8" counts)
    (re.compile(r"(?<![\d.x])([1-9]\d{0,2})x([1-9]\d{0,2})(?:\s*(?:in|inch|cm|\"))?(?![\d.])"), "dim"),
    (re.compile(r"(?<![\d.])(\d{1,2})(?:\s*\"|\s*''|\s*-?\s*inch(?:es|s)?\b|-?in\b)"), "in"),
    (re.compile(r"(?<![\d.])(\d{1,2})\s+in\b(?=\s*(?:" + _INCH_WORDS + r"\b|$|[,.;:)x]))"), "in"),
    (re.compile(r"(?<![\d.])(\d{1,2})'(?!s\b)"), "in"),
    (re.compile(r"(?<![\d.])(\d{1,2}(?:\.\d)?)\s*-?\s*(?:oz|ounces?)\b"), "oz"),
    (re.compile(r"(?<![\d.])(\d{2,4})\s*-?\s*(?:ml|mls|cc)\b"), "ml"),
    (re.compile(r"(?<![\d.])(\d{1,2}(?:\.\d{1,2})?)\s*-?\s*(?:l|ltr|ltrs|litres?|liters?)\b"), "l"),  # 1L, 50L kegs
    (re.compile(r"(?<![\d.])(\d{1,3})\s*-?\s*cl\b"), "cl"),  # "70cl" spirits
    (re.compile(r"(?<![\d.])(\d{1,3})\s*(cm|mm)\b"), "len"),
    (re.compile(r"(?<![\d.])(\d{1,4})\s*-?\s*(?:g|gm|gms|grams?)\b"), "g"),  # "155g" sardines (kg is a weight)
    (re.compile(r"(?<![\d.])(\d(?:\.\d)?)?\s*-?\s*(?:gal|gals|gallons?|galon)\b"), "gal"),  # "1 gal", "galon"
    # "coke 1.5 2 case", "royal 1.5": a decimal right after a name and before another count or the end is litres
    (re.compile(r"(?<=[a-z] )([1-9]\.\d{1,2})(?=\s+\d|\s*$|\s*,|\s+(?:and|&)\b)", re.MULTILINE), "l"),
    (re.compile(r"(?<![\d.])(\d{2,4})m\b"), "m"),
    (re.compile(r"(?<![\d.])(\d)\s*-?\s*(?:comp[a-z]*|cpt|partitions?|cells?|grids?|div)\b"), "comp"),
    (re.compile(r"\bsingle\s+(?:compartments?|comp)\b"), "comp1"),
    (re.compile(r"(?<![\d.])(\d)\s*-?\s*ply\b"), "ply"),  # "2 ply" tissue: a kind, never a count
    (re.compile(r"(?<![\d.])(\d)\s*c\b(?=\s*" + _TRAY_WORDS + ")"), "comp"),
    (re.compile(r"\b(?:xxl|2xl|extra[\s-]+extra[\s-]+large)\b"), "xxl"),
    (re.compile(r"\b(?:xl|x-large|extra[\s-]+large)\b"), "xl"),
    (re.compile(r"\b(?:small|smal|smll|sml|sm|smaller|smallest)\b"), "s"),
    (re.compile(r"\b(?:medium|medum|meduim|med)\b"), "m_"),
    (re.compile(r"\b(?:large|larg|lrg|lg|big|bigger|biggest|larger|largest)\b"), "l_"),
)


def extract_sizes(text: str) -> str:
    """Replace size expressions in lower-case text with size tokens."""
    for pattern, kind in _PATTERNS:
        text = pattern.sub(_replacer(kind), text)
    return text


def _replacer(kind: str) -> Callable[[re.Match[str]], str]:
    def _replace(match: re.Match[str]) -> str:
        return f" {_token(kind, match)} "

    return _replace


def _token(kind: str, match: re.Match[str]) -> str:
    if kind in ("s", "m_", "l_", "xl", "xxl"):
        return f"{SIZE_PREFIX}letter_{kind.rstrip('_')}"
    if kind == "comp1":
        return f"{SIZE_PREFIX}comp_1"
    number = match.group(1)
    if kind == "in":
        return f"{SIZE_PREFIX}in_{_trim(number)}"
    if kind == "oz":
        return f"{SIZE_PREFIX}vol_{_trim(number)}oz"
    if kind == "ml":
        return f"{SIZE_PREFIX}vol_{int(number)}ml"
    if kind == "cl":
        return f"{SIZE_PREFIX}vol_{int(number) * 10}ml"
    if kind == "l":
        return f"{SIZE_PREFIX}vol_{round(float(number) * 1000)}ml"
    if kind == "len":
        return f"{SIZE_PREFIX}len_{int(number)}{match.group(2)}"
    if kind == "m":
        return f"{SIZE_PREFIX}len_{int(number)}m"
    if kind == "g":
        return f"{SIZE_PREFIX}wt_{int(number)}g"
    if kind == "gal":
        # "galon" alone is also the word for a gallon bottle of water ("galon 4", "aqua galon")
        return f"{SIZE_PREFIX}vol_{_trim(number)}gal" if number else f"gallon {SIZE_PREFIX}vol_gal"
    if kind == "dim":
        return f"{SIZE_PREFIX}dim_{int(number)}x{int(match.group(2))}"
    if kind == "ply":
        return f"{SIZE_PREFIX}ply_{number}"
    return f"{SIZE_PREFIX}comp_{number}"


def _trim(number: str) -> str:
    return number.rstrip("0").rstrip(".") if "." in number else str(int(number))


def size_of(token: str) -> tuple[str, str] | None:
    """Split a size token into (dimension, value): ``size_in_12`` → ("in", "12")."""
    if not token.startswith(SIZE_PREFIX):
        return None
    dimension, _, value = token[len(SIZE_PREFIX) :].partition("_")
    return dimension, value


def describe_size(token: str) -> str:
    """A size token as people write it: ``size_in_12`` → 12", ``size_letter_l`` → large."""
    parsed = size_of(token)
    if parsed is None:
        return token
    dimension, value = parsed
    if dimension == "in":
        return f'{value}"'
    if dimension == "comp":
        return f"{value}-compartment"
    if dimension == "ply":
        return f"{value}-ply"
    if dimension == "letter":
        return {"s": "small", "m": "medium", "l": "large"}.get(value, value.upper())
    return value
