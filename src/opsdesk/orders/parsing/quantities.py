"""What a number in an order means, in the product's catalog unit.

- With a case word (ctn, carton, bundle, bdl, pack, pkt, case …) it counts the product's catalog unit, whatever that
  unit is called: outlets use these words interchangeably for "one of whatever you sell it in".
- With a piece word (pcs, pieces, nos, rolls, sets …) it counts pieces: divided by the pack size when that gives
  whole units, otherwise the customer is asked ("250 pcs is 2.5 bundles: 2 or 3?").
- Bare (no unit, ``x 5``, ``: 5`` on a form): below the pack size it counts catalog units. At or above the pack size
  it could be pieces or units ("600" boxes or bundles?), so it is asked — except on a form line that states the
  pack (``10" Regular Box (100/bundle): 600``), where a whole number of packs counts pieces (600 → 6 bundles).
- "box" or "bag" after the count, at the end of an item ("750ml lid 2 box"), counts the catalog unit of a product
  that is not itself a box or a bag, and pieces of one that is ("12 inch pizza 500 box").
- A count in two units ("10 bdl + 200 pcs") is added up when both parts are whole units; two different case words
  ("1 ctn + 2 bdl") are asked.
- A vessel (bottles, cans, tins, jars, tubs, sachets, sleeves, rolls, blocks, bars) counts the catalog unit of a
  product sold by that vessel or singly ("4 cans" of a 5 L can), pieces of one sold in cases or packs ("24 bottles"
  of a case of 12 is 2 cases, and so is "24 x 1L"; "20 rolls" of toilet rolls in packs of 10 is 2 packs). "box"
  counts the unit of a product sold by the box.
- A weight ("50kg flour") is divided by the weight the product's name states ("Flour 25kg": 2 bags); otherwise
  asked.
- A fraction of a unit ("1.5 ctn") is asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Final

from opsdesk.core.text import plural, singular
from opsdesk.orders.parsing.catalog import Product
from opsdesk.orders.parsing.segments import Quantity
from opsdesk.orders.parsing.vocabulary import VESSEL_UNITS, UnitKind


@dataclass(frozen=True, slots=True)
class Units:
    """The quantity in catalog units, or None with the question to ask instead. ``note`` explains a conversion."""

    value: int | None
    question: str = ""
    note: str = ""
    pieces: int | None = None  # asked "cartons or pieces?": the catalog units if they are pieces


def to_catalog_units(quantity: Quantity, product: Product, pack_hint: int | None, *, hint_counts_pieces: bool) -> Units:
    """Apply the rule in the module docstring."""
    if quantity.more is not None:
        return _two_parts(quantity, product, pack_hint, hint_counts_pieces=hint_counts_pieces)
    value, pack, unit = quantity.value, product.pack_size, product.unit
    if value != int(value):
        return Units(None, f"{count(value, unit)} of {product.name}: how many whole {plural(unit)} should we send?")
    whole = int(value)
    if quantity.unit is UnitKind.WEIGHT:
        return _by_weight(quantity, product)
    word = singular(quantity.written.split()[-1])
    if quantity.unit in (UnitKind.CONTAINER, UnitKind.VESSEL) and names_unit(word, unit):
        quantity = Quantity(value, UnitKind.CASE, quantity.written)  # "2 box" of gloves sold by the box
    pieces = "pieces"
    if quantity.unit is UnitKind.VESSEL:
        # "24 bottles" of a case of 12 bottles are 2 cases; "4 cans" of a 5 L can are 4 cans
        written = quantity.written.split()[-1]
        pieces = written if written in VESSEL_UNITS else "pieces"
        quantity = Quantity(value, UnitKind.PIECE, quantity.written)
    if quantity.unit is UnitKind.CONTAINER:
        # "750ml lid 2 box" counts cartons; "12 inch pizza 500 box" counts the boxes themselves, and "72 bags" of
        # crisps sold by the box of 36 counts the bags in them
        product_words = {singular(w) for text in (product.name, *product.aliases) for w in text.lower().split()}
        inside = word in product_words or singular(unit.lower()) in _CONTAINERS - {word}
        quantity = Quantity(value, UnitKind.PIECE if inside else UnitKind.CASE, quantity.written)
    if quantity.unit is UnitKind.CASE or pack == 1:
        return Units(whole)
    if quantity.unit is UnitKind.PIECE:
        if whole % pack == 0:
            return Units(whole // pack)
        low, high = whole // pack, whole // pack + 1
        return Units(
            None,
            f"{product.name} comes in {plural(unit)} of {pack}; {whole} {pieces} is {whole / pack:g} {plural(unit)}. "
            f"Should we send {count(low, unit) if low else 'none'} or {count(high, unit)}?",
        )
    if whole < pack:
        return Units(whole)
    if pack_hint is not None and hint_counts_pieces and whole % pack == 0:
        note = f"{product.name}: {whole} on the order form read as pieces = {count(whole // pack, unit)}"
        return Units(whole // pack, note=note)
    as_pieces = f"{whole / pack:g} {plural(unit)}" if whole % pack else count(whole // pack, unit)
    question = f"For {product.name}, do you mean {count(whole, unit)}, or {whole} pieces ({as_pieces})?"
    return Units(None, question, pieces=None if whole % pack else whole // pack)


_STATED_WEIGHT = re.compile(r"(\d+(?:\.\d+)?)\s*(?:kg|kgs|kilo|kilos)\b", re.IGNORECASE)


_CONTAINERS: Final = frozenset({"box", "bag"})
_SAME_UNIT: Final = {
    "btl": "bottle", "ctn": "carton", "pkt": "packet", "pk": "pack", "bdl": "bundle", "gal": "gallon", "cs": "case",
    "kgs": "kg", "kilo": "kg", "kilos": "kg", "kilogram": "kg", "kilograms": "kg",
}  # fmt: skip


def names_unit(word: str, unit: str) -> bool:
    """Does a unit word name the product's own catalog unit ("rolls" of a product sold by the roll)?"""
    unit = singular(unit.lower())
    return _SAME_UNIT.get(word, word) == unit or (word == "packet" and unit == "pack")


def _by_weight(quantity: Quantity, product: Product) -> Units:
    """ "50kg flour" of a product named "… Flour 25kg" is 2 bags, "40 kilo" of "Sugar 1kg (bale of 20)" 2 bales; a
    weight that is not whole units, or a product whose name states no weight, is asked."""
    if names_unit("kg", product.unit) and quantity.value.is_integer():  # "telur 10 kg" of eggs sold by the kg
        return Units(int(quantity.value))
    stated = next((m for text in (product.name, *product.aliases) if (m := _STATED_WEIGHT.search(text))), None)
    each = float(stated.group(1)) if stated else 0.0
    pieces = quantity.value / each if each > 0 else 0.5
    if pieces.is_integer() and int(pieces) % product.pack_size == 0:  # "40 kilo" of 1 kg packs in bales of 20: 2
        units = int(pieces) // product.pack_size
        return Units(units, note=f"{product.name}: {quantity.written} read as {count(units, product.unit)}")
    per = f" of {each:g} kg" if each else ""
    sold_in = plural(product.unit)
    return Units(None, f"{product.name} comes in {sold_in}{per}; how many {sold_in} is {quantity.written}?")


def _two_parts(quantity: Quantity, product: Product, pack_hint: int | None, *, hint_counts_pieces: bool) -> Units:
    """ "10 bdl + 200 pcs" is 12 bundles of a 100-piece bundle; "1 ctn + 2 bdl" of an item sold by the bundle is
    asked (which is the carton?), and so is a part that is not whole units."""
    assert quantity.more is not None
    first = replace(quantity, more=None, written=quantity.written.split(" + ")[0])
    words = {part.written.split()[-1] for part in (first, quantity.more) if part.unit is UnitKind.CASE}
    parts = [to_catalog_units(part, product, pack_hint, hint_counts_pieces=hint_counts_pieces)
             for part in (first, quantity.more)]  # fmt: skip
    if len(words) > 1 or any(part.value is None for part in parts):
        return Units(None, f"“{quantity.written}” of {product.name}: how many {plural(product.unit)} in all?")
    total = sum(part.value or 0 for part in parts)
    return Units(total, note=f"{product.name}: {quantity.written} read as {count(total, product.unit)}")


def count(value: float, unit: str) -> str:
    """ "3 bundles", "1 carton", "2 boxes"."""
    return f"{value:g} {unit if value == 1 else plural(unit)}"
