"""Product codes and names written as numbers, found in a message before it is read: a SKU ("PB-12R", "pb12r"), a
brand that is a number ("555" sardines) and a name that ends in a number ("kresek 24"). Each becomes the product's
code word in the text, so that its digits are never read as a count or a size.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from opsdesk.orders.parsing.catalog import Product
from opsdesk.orders.parsing.sizes import extract_sizes
from opsdesk.orders.parsing.vocabulary import COUNT_UNIT_PATTERN


def code_key(code: str) -> str:
    return re.sub(r"[\s-]", "", code.lower())


def _owned_once(pairs: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Each written form that one product only has, with that product's index."""
    owners: dict[str, set[int]] = {}
    for written, index in pairs:
        owners.setdefault(written, set()).add(index)
    return {written: next(iter(found)) for written, found in owners.items() if len(found) == 1}


def number_names(products: Sequence[Product]) -> dict[str, int]:
    """Numbers of three or more digits that are a word of one product's aliases ("555", "555 sardines")."""
    return _owned_once(
        (word, index)
        for index, product in enumerate(products)
        for alias in product.aliases
        for word in re.findall(r"(?<![\w.])\d{3,}(?![\w.])", extract_sizes(alias.lower()))  # not "250 ml"
    )


def numbered_aliases(products: Sequence[Product]) -> dict[str, int]:
    """Aliases of words then a bare number ("kantong plastik 24", "kresek 24"), each of one product only."""
    return _owned_once(
        (written, index)
        for index, product in enumerate(products)
        for written in (" ".join(alias.lower().split()) for alias in product.aliases)
        if (found := re.fullmatch(r"[a-z][a-z ]*? (\d{1,4})", written))
        and extract_sizes(written).rstrip().endswith(found.group(1))  # not "600 ml"
    )


def numbered_pattern(aliases: dict[str, int]) -> re.Pattern[str] | None:
    if not aliases:
        return None
    alternatives = "|".join(
        r"\s+".join(re.escape(word) for word in alias.split()) for alias in sorted(aliases, key=len, reverse=True)
    )
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w.])", re.IGNORECASE)


def number_pattern(names: dict[str, int]) -> re.Pattern[str] | None:
    if not names:
        return None
    alternatives = "|".join(sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![\w.-])(?:{alternatives})(?![\w.-])(?!\s*{COUNT_UNIT_PATTERN}\b)", re.IGNORECASE)


def code_pattern(products: Sequence[Product], vocabulary: frozenset[str]) -> re.Pattern[str] | None:
    """Product codes as written in messages: case-insensitive; a hyphen may be left out when the code has a digit.
    Codes made only of digits (they would be quantities), shorter than four characters or equal to a word of the
    catalog's names are never looked for."""
    patterns = []
    for product in products:
        code = product.sku.strip()
        has_digit = any(c.isdigit() for c in code)
        if len(code) < 4 or not any(c.isalpha() for c in code) or code.lower() in vocabulary:
            continue
        if not has_digit and "-" not in code:
            continue
        parts = [re.escape(part) for part in code.split("-")]
        patterns.append(("-?" if has_digit else "-").join(parts))
    if not patterns:
        return None
    alternatives = "|".join(sorted(patterns, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)


_SIZE_TAIL = re.compile(r"\d+(?:l|ml|cl|g|kg|oz|cm|mm|m|in|lb|pc|s|xl)")


def code_tails(products: Sequence[Product]) -> dict[str, int]:
    """The part of a product code after its last hyphen, when it is a number and a letter or two and no other code
    ends the same way ("10R" of "PB-10R", "8H" of "CP-8H"): outlets write our codes so ("10R - 10bdl")."""
    return _owned_once(
        (tail, index)
        for index, product in enumerate(products)
        if "-" in product.sku
        and re.fullmatch(r"\d{1,3}[a-z]{1,2}", tail := product.sku.rsplit("-", 1)[-1].lower())
        and not _SIZE_TAIL.fullmatch(tail)  # "1L" of "OL-1L" is a size wherever it is written
    )


def tail_pattern(tails: dict[str, int]) -> re.Pattern[str] | None:
    if not tails:
        return None
    return re.compile(rf"(?<![\w\"'-])(?:{'|'.join(sorted(tails))})(?![\w\"'-])", re.IGNORECASE)
