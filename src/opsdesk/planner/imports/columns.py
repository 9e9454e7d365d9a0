"""Which header is which field: names match ignoring case, spaces, underscores and punctuation, and each field
knows the other names dealers and retailers give it ("Units Sold", "Stock No", "MSRP", "GP" …)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from opsdesk.planner.imports.schemas import ImportKind

FieldType = Literal["text", "date", "quantity", "integer", "money", "decimal", "share", "bool"]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    type: FieldType
    synonyms: tuple[str, ...] = ()
    required: bool = False


_ITEM: tuple[str, ...] = ("item", "item key", "item id", "item code", "sku", "config", "configuration", "config id")
_ITEM = (*_ITEM, "config code", "product code", "product id", "model code", "article", "article no")
_PERIOD = ("period", "month", "week", "date", "period start", "week start", "week starting", "month start")

FIELDS: dict[ImportKind, tuple[FieldSpec, ...]] = {
    "items": (
        FieldSpec("key", "text", _ITEM, required=True),
        FieldSpec("name", "text", ("description", "item name", "product name", "config name", "title")),
        FieldSpec("model_line", "text", ("model", "model line", "line", "series", "nameplate", "department", "dept")),
        FieldSpec("variant", "text", ("trim", "version", "grade", "trim level")),
        FieldSpec("options", "text", ("option", "option codes", "features", "equipment", "packages")),
        FieldSpec("unit_cost", "money", ("cost", "invoice", "dealer cost", "invoice price", "cost price")),
        FieldSpec("unit_price", "money", ("price", "msrp", "list price", "retail price", "selling price", "sticker")),
        FieldSpec("lot_spaces", "decimal", ("lot space", "spaces", "space", "spaces per unit", "unit volume")),
        FieldSpec("pack_multiple", "integer", ("pack", "pack size", "case pack", "order multiple", "multiple")),
        FieldSpec("lead_time_weeks", "integer", ("lead time", "lead weeks", "lead time wks", "leadtime")),
        FieldSpec("active", "bool", ("enabled", "is active", "status")),
    ),
    "inventory": (
        FieldSpec("snapshot_date", "date", ("snapshot", "as of", "as at", "date", "inventory date", "report date")),
        FieldSpec("unit_id", "text", ("vin", "unit", "stock no", "stock number", "stock", "serial", "serial no"), True),
        FieldSpec("item", "text", _ITEM, required=True),
        FieldSpec("quantity", "quantity", ("qty", "units", "on hand", "qty on hand", "count")),
        FieldSpec("days_on_lot", "integer", ("days in stock", "age", "days", "age days", "days in inventory")),
        FieldSpec("cost", "money", ("invoice", "unit cost", "dealer cost", "book value", "invoice price")),
    ),
    "sales": (
        FieldSpec(
            "date",
            "date",
            ("sale date", "sold date", "sales date", "week", "week start", "week ending", "day"),
            required=True,
        ),
        FieldSpec("item", "text", _ITEM, required=True),
        FieldSpec("quantity", "quantity", ("qty", "units", "units sold", "sold", "sales units", "unit sales"), True),
        FieldSpec("price", "money", ("sale price", "selling price", "unit price", "transaction price", "avg price")),
        FieldSpec("gross", "money", ("gp", "gross profit", "front gross", "margin", "profit", "total gross")),
        FieldSpec(
            "source_key",
            "text",
            (
                "deal",
                "deal no",
                "deal number",
                "invoice no",
                "invoice number",
                "transaction",
                "transaction id",
                "receipt",
                "order no",
                "vin",
                "stock no",
            ),
        ),
    ),
    "market": (
        FieldSpec("period", "date", _PERIOD, required=True),
        FieldSpec("segment", "text", ("class", "vehicle class", "category", "make", "brand", "model line")),
        FieldSpec("item", "text", _ITEM),
        FieldSpec("share", "share", ("market share", "share pct", "share percent", "mix")),
        FieldSpec("trend", "decimal", ("growth", "yoy", "yoy change", "change", "trend pct")),
        FieldSpec("region", "text", ("area", "market", "zone", "state", "country", "territory")),
    ),
    "allocations": (
        FieldSpec("period", "date", _PERIOD, required=True),
        FieldSpec("model_line", "text", ("model", "line", "series", "nameplate")),
        FieldSpec("item", "text", _ITEM),
        FieldSpec("max_units", "integer", ("allocation", "allocated", "units", "qty", "quantity", "max", "cap"), True),
    ),
    "on_order": (
        FieldSpec("item", "text", _ITEM, required=True),
        FieldSpec(
            "expected_week",
            "date",
            ("expected", "expected date", "eta", "arrival", "arrival date", "due", "due date", "delivery week"),
            required=True,
        ),
        FieldSpec("quantity", "integer", ("qty", "units", "on order", "ordered", "order qty"), True),
        FieldSpec("reference", "text", ("po", "po number", "purchase order", "order no", "order number", "vin")),
    ),
    "feedback": (
        FieldSpec("item", "text", _ITEM, required=True),
        FieldSpec("period_start", "date", _PERIOD, required=True),
        FieldSpec("recommended", "integer", ("rec", "suggested", "recommendation", "recommended qty")),
        FieldSpec("ordered", "integer", ("order qty", "ordered qty", "ordered units", "orders")),
        FieldSpec("sold", "integer", ("units sold", "sales", "sold qty")),
        FieldSpec("gross_profit", "money", ("gross", "gp", "profit", "total gross")),
        FieldSpec("days_to_turn", "decimal", ("turn", "turn days", "days to sell", "avg days to turn")),
    ),
}
# a row needs one of these (market rows are per segment or per item; allocations per model line or per item)
ONE_OF: dict[ImportKind, tuple[str, str]] = {"market": ("segment", "item"), "allocations": ("model_line", "item")}


def normalise(header: str) -> str:
    """Letters and digits only, lower case: "Units_Sold", "units sold" and "UNITS-SOLD" are one name."""
    return re.sub(r"[^a-z0-9]+", "", header.lower())


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    fields: dict[str, int]  # field → position in the row
    headers: dict[str, str]  # field → header as written
    unknown: list[str]
    missing: list[str]  # required fields no header gave
    unknown_overrides: list[str]  # mapping entries naming a header the file lacks or a field the kind lacks


def specs(kind: ImportKind) -> dict[str, FieldSpec]:
    return {spec.name: spec for spec in FIELDS[kind]}


def map_columns(headers: Sequence[str], kind: ImportKind, overrides: Mapping[str, str] | None = None) -> ColumnMapping:
    """Each header to a field: the caller's overrides first, then the field's own name, then its synonyms in order
    (so "VIN" wins over "Stock No" for a unit id wherever the columns stand); a second match is reported unknown."""
    by_spec = specs(kind)
    ranks: dict[str, tuple[str, int]] = {}
    for spec in FIELDS[kind]:
        for rank, name in enumerate((spec.name, *spec.synonyms)):
            ranks.setdefault(normalise(name), (spec.name, rank))
    forced = {normalise(header): target for header, target in (overrides or {}).items()}
    present = {normalise(header) for header in headers}
    bad_overrides = [
        header
        for header, target in (overrides or {}).items()
        if (target and target not in by_spec) or normalise(header) not in present
    ]
    best: dict[str, tuple[int, int]] = {}  # field → (rank, position); overrides rank -1
    for position, header in enumerate(headers):
        key = normalise(header)
        target, rank = (forced[key], -1) if key in forced else ranks.get(key, ("", 0))
        if target in by_spec and (target not in best or (rank, position) < best[target]):
            best[target] = (rank, position)
    fields = {name: position for name, (_, position) in sorted(best.items(), key=lambda pair: pair[1][1])}
    taken = set(fields.values())
    unknown = [
        header
        for position, header in enumerate(headers)
        if header and position not in taken and forced.get(normalise(header)) != ""
    ]
    missing = [spec.name for spec in FIELDS[kind] if spec.required and spec.name not in fields]
    return ColumnMapping(
        fields, {name: headers[position] for name, position in fields.items()}, unknown, missing, bad_overrides
    )
