"""Request and response bodies of the catalog API: products, outlets, derived-item rules, imports and their reports."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from opsdesk.orders.schemas import RULE_NAME, SKU, SKU_RE, WEEKDAY_NAMES, Input, clean_list


class ProductFields(Input):
    name: str = Field(min_length=1, max_length=200)
    aliases: list[str] = Field(default_factory=list, max_length=50)
    unit: str = Field(default="carton", min_length=1, max_length=32)
    pack_size: int = Field(default=1, ge=1, le=1_000_000)
    unit_price: Decimal = Field(default=Decimal(0), ge=0, le=Decimal("1000000"), decimal_places=4)
    category: str = Field(default="", max_length=64)
    stock: int = Field(default=0, ge=0, le=100_000_000)
    min_order: int = Field(default=1, ge=1, le=1_000_000)
    active: bool = True

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: list[str]) -> list[str]:
        return clean_list(value, 200)


class ProductIn(ProductFields):
    sku: str = Field(pattern=SKU)


class ProductUpdate(Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    aliases: list[str] | None = Field(default=None, max_length=50)
    unit: str | None = Field(default=None, min_length=1, max_length=32)
    pack_size: int | None = Field(default=None, ge=1, le=1_000_000)
    unit_price: Decimal | None = Field(default=None, ge=0, le=Decimal("1000000"), decimal_places=4)
    category: str | None = Field(default=None, max_length=64)
    stock: int | None = Field(default=None, ge=0, le=100_000_000)
    min_order: int | None = Field(default=None, ge=1, le=1_000_000)
    active: bool | None = None


class ProductOut(ProductIn):
    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    created_at: datetime
    updated_at: datetime


class OutletFields(Input):
    name: str = Field(min_length=1, max_length=200)
    aliases: list[str] = Field(default_factory=list, max_length=50)
    address: str = Field(default="", max_length=2000)
    contact_name: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=320)
    phones: list[str] = Field(default_factory=list, max_length=20)
    billing_entity: str = Field(default="", max_length=200)
    usual_days: list[str] = Field(default_factory=list, max_length=7)
    active: bool = True

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: list[str]) -> list[str]:
        return clean_list(value, 200)

    @field_validator("phones")
    @classmethod
    def _phones(cls, value: list[str]) -> list[str]:
        phones = clean_list(value, 40)
        for phone in phones:
            digits = sum(ch.isdigit() for ch in phone)
            if digits < 6 or any(not (ch.isdigit() or ch in "+ ()-.") for ch in phone):
                raise ValueError(f"{phone!r} is not a phone number")
        return phones

    @field_validator("usual_days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        days = []
        for day in clean_list(value, 20):
            key = day[:3].lower()
            if key not in WEEKDAY_NAMES:
                raise ValueError(f"{day!r} is not a weekday (Mon … Sun)")
            days.append(key.title())
        return days


class OutletIn(OutletFields):
    code: str = Field(pattern=SKU)


class OutletUpdate(Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    aliases: list[str] | None = Field(default=None, max_length=50)
    address: str | None = Field(default=None, max_length=2000)
    contact_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phones: list[str] | None = Field(default=None, max_length=20)
    billing_entity: str | None = Field(default=None, max_length=200)
    usual_days: list[str] | None = Field(default=None, max_length=7)
    active: bool | None = None

    @field_validator("phones")
    @classmethod
    def _phones(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else OutletFields._phones(value)

    @field_validator("usual_days")
    @classmethod
    def _days(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else OutletFields._days(value)


class OutletOut(OutletIn):
    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    created_at: datetime
    updated_at: datetime


def _skus(values: list[str]) -> list[str]:
    skus = clean_list(values, 64)
    bad = [sku for sku in skus if not SKU_RE.match(sku)]
    if bad:
        raise ValueError(f"{', '.join(map(repr, bad))} is not a SKU (letters, digits, '.', '_' or '-')")
    return skus


class DerivedRuleFields(Input):
    derived_sku: str = Field(pattern=SKU, description="The product the rule adds, e.g. a liner.")
    trigger_skus: list[str] = Field(
        default_factory=list, max_length=200, description="Ordering any of these products adds the derived one."
    )
    trigger_categories: list[str] = Field(
        default_factory=list, max_length=50, description="Ordering any product of these categories adds it too."
    )
    per_trigger_piece: Decimal = Field(
        default=Decimal(1),
        gt=0,
        le=Decimal(10_000),
        decimal_places=4,
        description="Pieces of the derived product per piece of the trigger (1: one liner per box); the quantity "
        "is rounded up to whole units (packs, cartons) of the derived product.",
    )
    skip_if_ordered: bool = Field(default=True, description="Add nothing when the order has the product already.")
    charged: bool = Field(default=False, description="Priced like any line; false: a free line.")
    note: str = Field(default="", max_length=500, description="Shown with the derived line.")

    @field_validator("trigger_skus")
    @classmethod
    def _triggers(cls, value: list[str]) -> list[str]:
        return _skus(value)

    @field_validator("trigger_categories")
    @classmethod
    def _categories(cls, value: list[str]) -> list[str]:
        return clean_list(value, 64)


class DerivedRuleIn(DerivedRuleFields):
    name: str = Field(pattern=RULE_NAME, description="Names the rule in the workspace, e.g. liners_with_boxes.")


class DerivedRuleUpdate(Input):
    derived_sku: str | None = Field(default=None, pattern=SKU)
    trigger_skus: list[str] | None = Field(default=None, max_length=200)
    trigger_categories: list[str] | None = Field(default=None, max_length=50)
    per_trigger_piece: Decimal | None = Field(default=None, gt=0, le=Decimal(10_000), decimal_places=4)
    skip_if_ordered: bool | None = None
    charged: bool | None = None
    note: str | None = Field(default=None, max_length=500)

    @field_validator("trigger_skus")
    @classmethod
    def _triggers(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _skus(value)

    @field_validator("trigger_categories")
    @classmethod
    def _categories(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else clean_list(value, 64)


class DerivedRuleOut(DerivedRuleIn):
    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    created_at: datetime


class ImportProblem(BaseModel):
    row: int = Field(description="The spreadsheet row (the header is row 1).")
    column: str
    problem: str


class ImportRowAction(BaseModel):
    row: int = Field(description="The spreadsheet row (the header is row 1).")
    key: str = Field(description="The row's SKU, outlet code or rule name ('' when it has none).")
    action: Literal["create", "update", "unchanged", "error"] = Field(
        description="What writing the row does (or did); 'error': the row has problems and is never written."
    )
    changes: list[str] = Field(default_factory=list, description="The fields an update changes.")


class ImportReport(BaseModel):
    kind: str
    rows: int = Field(description="Data rows read (blank rows are not counted).")
    created: int = Field(description="Rows created, or on dry_run the rows this import would create.")
    updated: int = Field(description="Rows changed, or on dry_run the rows it would change.")
    unchanged: int = Field(description="Rows already as the file says.")
    errors: int = Field(default=0, description="Rows with problems.")
    skipped: int = Field(description="Rows not written: rows with problems, or every row when nothing is written.")
    applied: bool = Field(description="False when problems stopped the import (on_error=reject) or on dry_run.")
    dry_run: bool = False
    unknown_columns: list[str] = Field(
        default_factory=list,
        description="Headers matching no field (or naming a field a column before already gives); their cells "
        "are not read.",
    )
    row_actions: list[ImportRowAction] = Field(default_factory=list, description="One entry per data row.")
    problems: list[ImportProblem]
