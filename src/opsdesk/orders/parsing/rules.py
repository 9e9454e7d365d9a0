"""Derived items: things that come with what was ordered, by configurable catalog rules."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from opsdesk.orders.parsing.catalog import Catalog, DerivedItemRule
from opsdesk.orders.parsing.results import DerivedItem, LineItem


def derive_items(items: Sequence[LineItem], catalog: Catalog, rules: Iterable[DerivedItemRule]) -> list[DerivedItem]:
    """Apply each rule to the ordered items; quantities are rounded up to whole units of the derived product."""
    ordered = {item.sku for item in items}
    derived: list[DerivedItem] = []
    for rule in rules:
        if rule.skip_if_ordered and rule.derived_sku in ordered:
            continue
        pieces = 0
        for item in items:
            product = catalog.product(item.sku)
            if item.sku in rule.trigger_skus or product.category in rule.trigger_categories:
                pieces += item.quantity * product.pack_size
        if pieces == 0:
            continue
        target = catalog.product(rule.derived_sku)
        quantity = math.ceil(pieces * rule.per_trigger_piece / target.pack_size)
        derived.append(
            DerivedItem(
                sku=target.sku,
                quantity=quantity,
                unit=target.unit,
                rule=rule.name,
                charged=rule.charged,
                note=rule.note,
            )
        )
    return derived
