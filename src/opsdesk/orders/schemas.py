"""Request and response bodies of the order desk API: orders, confirmations and changes, inbound messages.

The catalog's bodies (products, outlets, derived-item rules, imports) are in `orders.catalog.schemas`, the delivery
list template's in `orders.delivery.schemas`; the shared `Input` base and field patterns are here."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

SKU = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
SKU_RE = re.compile(SKU)
RULE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
WEEKDAY_NAMES = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}


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


class Input(BaseModel):
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


def clean_list(values: list[str], max_len: int) -> list[str]:
    seen: list[str] = []
    for value in values:
        text = value.strip()
        if text and text not in seen:
            seen.append(text[:max_len])
    return seen


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


class ConfirmIn(Input):
    acknowledge_anomalies: bool = Field(
        default=False, description="Required when the order has anomalies (unusual quantities or totals)."
    )


class CancelIn(Input):
    reason: str = Field(default="", max_length=500)


class LineChange(Input):
    sku: str = Field(pattern=SKU)
    quantity: int = Field(ge=0, le=1_000_000, description="0 removes the line.")


class ChangeIn(Input):
    lines: list[LineChange] = Field(min_length=1, max_length=100)
    acknowledge_anomalies: bool = False


class InboundMessageIn(Input):
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
