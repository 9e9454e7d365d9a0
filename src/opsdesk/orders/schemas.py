"""Request and response bodies of the order desk API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_SKU = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
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


class ImportProblem(BaseModel):
    row: int = Field(description="The spreadsheet row (the header is row 1).")
    column: str
    problem: str


class ImportReport(BaseModel):
    kind: str
    rows: int
    created: int
    updated: int
    unchanged: int
    skipped: int
    applied: bool = Field(description="False when problems stopped the import (on_error=reject) or on dry_run.")
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
