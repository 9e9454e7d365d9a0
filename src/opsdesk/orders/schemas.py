"""Request and response bodies of the order desk API."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_SKU = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_SKU_RE = re.compile(_SKU)
_RULE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
_WEEKDAY_NAMES = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}


class OrderStatus(StrEnum):
    draft = "draft"
    awaiting_confirmation = "awaiting_confirmation"
    confirmed = "confirmed"
    dispatched = "dispatched"
    delivered = "delivered"
    cancelled = "cancelled"


class InvoiceStatus(StrEnum):
    pending = "pending"
    posted = "posted"
    failed = "failed"
    cancelled = "cancelled"


class _Input(BaseModel):
    """Request bodies: NUL characters (which PostgreSQL text cannot hold) are dropped from every string."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _drop_nul(cls, data: Any) -> Any:
        return _without_nul(data)


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {key: _without_nul(item) for key, item in value.items()}
    return value


def _clean_list(values: list[str], max_len: int) -> list[str]:
    seen: list[str] = []
    for value in values:
        text = value.strip()
        if text and text not in seen:
            seen.append(text[:max_len])
    return seen


# ---------------------------------------------------------------------------------------------- catalog


class ProductFields(_Input):
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
        return _clean_list(value, 200)


class ProductIn(ProductFields):
    sku: str = Field(pattern=_SKU)


class ProductUpdate(_Input):
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


class OutletFields(_Input):
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
        return _clean_list(value, 200)

    @field_validator("phones")
    @classmethod
    def _phones(cls, value: list[str]) -> list[str]:
        phones = _clean_list(value, 40)
        for phone in phones:
            digits = sum(ch.isdigit() for ch in phone)
            if digits < 6 or any(not (ch.isdigit() or ch in "+ ()-.") for ch in phone):
                raise ValueError(f"{phone!r} is not a phone number")
        return phones

    @field_validator("usual_days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        days = []
        for day in _clean_list(value, 20):
            key = day[:3].lower()
            if key not in _WEEKDAY_NAMES:
                raise ValueError(f"{day!r} is not a weekday (Mon … Sun)")
            days.append(key.title())
        return days


class OutletIn(OutletFields):
    code: str = Field(pattern=_SKU)


class OutletUpdate(_Input):
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
    skus = _clean_list(values, 64)
    bad = [sku for sku in skus if not _SKU_RE.match(sku)]
    if bad:
        raise ValueError(f"{', '.join(map(repr, bad))} is not a SKU (letters, digits, '.', '_' or '-')")
    return skus


class DerivedRuleFields(_Input):
    derived_sku: str = Field(pattern=_SKU, description="The product the rule adds, e.g. a liner.")
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
        return _clean_list(value, 64)


class DerivedRuleIn(DerivedRuleFields):
    name: str = Field(pattern=_RULE_NAME, description="Names the rule in the workspace, e.g. liners_with_boxes.")


class DerivedRuleUpdate(_Input):
    derived_sku: str | None = Field(default=None, pattern=_SKU)
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
        return None if value is None else _clean_list(value, 64)


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


# ----------------------------------------------------------------------------------------------- orders


class OrderLineOut(BaseModel):
    line_no: int
    sku: str
    description: str
    quantity: int
    unit: str
    pack_size: int
    unit_price: Decimal
    line_total: Decimal
    derived: bool
    charged: bool
    note: str


class DeliveryOrderOut(BaseModel):
    number: str
    delivery_date: date
    slot: str
    created_at: datetime


class InvoiceOut(BaseModel):
    number: str
    status: InvoiceStatus
    backend: str
    external_id: str | None
    attempts: int
    last_error: str | None
    posted_at: datetime | None
    currency: str
    subtotal: Decimal
    tax: Decimal
    total: Decimal


class OrderOut(BaseModel):
    id: uuid.UUID
    number: str
    status: OrderStatus
    outlet_code: str
    outlet_name: str
    urgent: bool
    currency: str
    tax_rate: Decimal
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    delivery_date: date | None
    delivery_slot: str
    anomalies: list[dict[str, Any]]
    anomalies_acknowledged: bool
    notes: list[str]
    session_id: str | None
    source_message_id: str | None
    revision: int
    created_at: datetime
    confirmed_at: datetime | None
    dispatched_at: datetime | None
    delivered_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str
    lines: list[OrderLineOut]
    delivery_order: DeliveryOrderOut | None = None
    invoice: InvoiceOut | None = None


class ConfirmIn(_Input):
    acknowledge_anomalies: bool = Field(
        default=False, description="Required when the order has anomalies (unusual quantities or totals)."
    )


class CancelIn(_Input):
    reason: str = Field(default="", max_length=500)


class LineChange(_Input):
    sku: str = Field(pattern=_SKU)
    quantity: int = Field(ge=0, le=1_000_000, description="0 removes the line.")


class ChangeIn(_Input):
    lines: list[LineChange] = Field(min_length=1, max_length=100)
    acknowledge_anomalies: bool = False


class InboundMessageIn(_Input):
    """A customer message for the order desk (the conversation runtime normally sends these)."""

    session_id: str = Field(min_length=1, max_length=200)
    text: str = Field(max_length=20_000)
    sender_phone: str | None = Field(default=None, max_length=40)
    message_id: str | None = Field(default=None, min_length=1, max_length=200)


class OrderReplyOut(BaseModel):
    reply: str
    outcome: str
    order_id: uuid.UUID | None = None
    order_number: str | None = None
    order_status: OrderStatus | None = None
    awaiting: str | None = Field(default=None, description="What the desk waits for: 'clarification', 'confirmation'.")
    duplicate: bool = False
    escalate: bool = False


class RetryReport(BaseModel):
    attempted: int
    posted: int
    still_pending: int
    failed: int


class DeliveryTemplateOut(BaseModel):
    """A workspace's delivery-list template: the workbook kept (its sheets) and the mapping that fills it."""

    file_name: str
    sha256: str
    size_bytes: int
    sheets: list[str]
    mapping: dict[str, Any]
    updated_at: datetime
