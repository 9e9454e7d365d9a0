"""The catalog the parser matches against: products, outlets and derived-item rules as plain dataclasses."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from opsdesk.core.errors import InvalidInput

DEMO_CATALOG_PATH = Path(__file__).resolve().parent.parent / "data" / "demo_catalog.json"


class CatalogError(InvalidInput):
    """The catalog data is inconsistent (duplicate SKU, unknown SKU in a rule, bad number …)."""


@dataclass(frozen=True, slots=True)
class Product:
    """A sellable item. Quantities are always counted in ``unit``; one unit holds ``pack_size`` pieces."""

    sku: str
    name: str
    aliases: tuple[str, ...] = ()
    unit: str = "carton"
    pack_size: int = 1
    unit_price: Decimal = Decimal("0")
    category: str = ""
    stock: int = 0
    min_order: int = 1
    active: bool = True


@dataclass(frozen=True, slots=True)
class Outlet:
    """A customer delivery point (restaurant, shop) and the phones it orders from."""

    code: str
    name: str
    aliases: tuple[str, ...] = ()
    address: str = ""
    phones: tuple[str, ...] = ()
    billing_entity: str = ""
    usual_days: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DerivedItemRule:
    """Adds an item that comes with others, e.g. one liner per premium pizza box.

    The derived quantity is ``ceil(trigger pieces * per_trigger_piece / derived pack size)`` in the derived
    product's unit. With ``skip_if_ordered`` nothing is added when the customer already ordered the item.
    """

    name: str
    derived_sku: str
    trigger_skus: frozenset[str] = frozenset()
    trigger_categories: frozenset[str] = frozenset()
    per_trigger_piece: Decimal = Decimal(1)
    skip_if_ordered: bool = True
    charged: bool = False
    note: str = ""


@dataclass(frozen=True, slots=True)
class Catalog:
    """Products, outlets and rules, checked for consistency when built."""

    products: tuple[Product, ...]
    outlets: tuple[Outlet, ...]
    rules: tuple[DerivedItemRule, ...] = ()
    currency: str = "SGD"
    _by_sku: Mapping[str, Product] = field(init=False, repr=False, compare=False)
    _by_code: Mapping[str, Outlet] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_sku", _unique({p.sku: p for p in self.products}, self.products, "SKU"))
        object.__setattr__(self, "_by_code", _unique({o.code: o for o in self.outlets}, self.outlets, "outlet code"))
        for product in self.products:
            if product.pack_size < 1:
                raise CatalogError(f"{product.sku}: pack_size must be at least 1")
        for rule in self.rules:
            for sku in (rule.derived_sku, *rule.trigger_skus):
                if sku not in self._by_sku:
                    raise CatalogError(f"rule {rule.name!r} names unknown SKU {sku!r}")

    def product(self, sku: str) -> Product:
        """The product with this SKU; KeyError when there is none."""
        return self._by_sku[sku]

    def outlet(self, code: str) -> Outlet:
        """The outlet with this code; KeyError when there is none."""
        return self._by_code[code]

    def has_product(self, sku: str) -> bool:
        return sku in self._by_sku


def _unique(index: dict[str, Any], rows: tuple[Any, ...], what: str) -> dict[str, Any]:
    if len(index) != len(rows):
        seen: set[str] = set()
        for row in rows:
            key = row.sku if what == "SKU" else row.code
            if key in seen:
                raise CatalogError(f"duplicate {what} {key!r}")
            seen.add(key)
    return index


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _decimal(value: Any, where: str) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise CatalogError(f"{where}: {value!r} is not a number") from exc


def product_from_dict(row: Mapping[str, Any]) -> Product:
    """Build a Product from a JSON/CSV-like mapping."""
    sku = str(row["sku"])
    return Product(
        sku=sku,
        name=str(row["name"]),
        aliases=_strings(row.get("aliases")),
        unit=str(row.get("unit", "carton")),
        pack_size=int(row.get("pack_size", 1)),
        unit_price=_decimal(row.get("unit_price", "0"), sku),
        category=str(row.get("category", "")),
        stock=int(row.get("stock", 0)),
        min_order=int(row.get("min_order", 1)),
        active=bool(row.get("active", True)),
    )


def outlet_from_dict(row: Mapping[str, Any]) -> Outlet:
    """Build an Outlet from a JSON/CSV-like mapping."""
    return Outlet(
        code=str(row["code"]),
        name=str(row["name"]),
        aliases=_strings(row.get("aliases")),
        address=str(row.get("address", "")),
        phones=_strings(row.get("phones")),
        billing_entity=str(row.get("billing_entity", "")),
        usual_days=_strings(row.get("usual_days")),
    )


def rule_from_dict(row: Mapping[str, Any]) -> DerivedItemRule:
    """Build a DerivedItemRule from a JSON mapping."""
    name = str(row["name"])
    return DerivedItemRule(
        name=name,
        derived_sku=str(row["derived_sku"]),
        trigger_skus=frozenset(_strings(row.get("trigger_skus"))),
        trigger_categories=frozenset(_strings(row.get("trigger_categories"))),
        per_trigger_piece=_decimal(row.get("per_trigger_piece", 1), name),
        skip_if_ordered=bool(row.get("skip_if_ordered", True)),
        charged=bool(row.get("charged", False)),
        note=str(row.get("note", "")),
    )


def catalog_from_dict(data: Mapping[str, Any]) -> Catalog:
    """Build a Catalog from the JSON layout of ``demo_catalog.json``."""
    try:
        return Catalog(
            products=tuple(product_from_dict(r) for r in data.get("products", ())),
            outlets=tuple(outlet_from_dict(r) for r in data.get("outlets", ())),
            rules=tuple(rule_from_dict(r) for r in data.get("rules", ())),
            currency=str(data.get("currency", "SGD")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CatalogError(f"invalid catalog data: {exc}") from exc


def load_catalog(path: Path | str | None = None) -> Catalog:
    """Load a catalog JSON file; without a path, the invented demo distributor."""
    with open(path or DEMO_CATALOG_PATH, encoding="utf-8") as handle:
        return catalog_from_dict(json.load(handle))


def build_catalog(
    products: Iterable[Product], outlets: Iterable[Outlet], rules: Iterable[DerivedItemRule] = ()
) -> Catalog:
    """A Catalog from already-built rows (e.g. loaded from the database by the order service)."""
    return Catalog(products=tuple(products), outlets=tuple(outlets), rules=tuple(rules))
