"""Order desk tables: catalog (products, outlets, derived-item rules), orders and lines, delivery orders, invoices,
the local ledger, per-day document counters, inbound message receipts and the accounting token."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.auth import models as _auth_models  # noqa: F401  (registers the workspaces table our keys name)
from opsdesk.db.base import Base, IdMixin, TimestampMixin, utcnow

ORDER_STATUSES = ("draft", "awaiting_confirmation", "confirmed", "dispatched", "delivered", "cancelled")
INVOICE_STATUSES = ("pending", "posted", "failed", "cancelled")
_WORKSPACE_FK = "workspaces.id"


def _workspace() -> Mapped[uuid.UUID]:
    return mapped_column(Uuid, ForeignKey(_WORKSPACE_FK, ondelete="CASCADE"), index=True)


def _money() -> Mapped[Decimal]:
    return mapped_column(Numeric(14, 2), default=Decimal("0.00"))


def _updated() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Product(IdMixin, TimestampMixin, Base):
    """A sellable item; quantities are counted in ``unit`` and one unit holds ``pack_size`` pieces."""

    __tablename__ = "order_products"
    __table_args__ = (UniqueConstraint("workspace_id", "sku", name="uq_order_products_workspace_sku"),)

    workspace_id: Mapped[uuid.UUID] = _workspace()
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    aliases: Mapped[list[str]] = mapped_column(ARRAY(String(200)), default=list)
    unit: Mapped[str] = mapped_column(String(32), default="carton")
    pack_size: Mapped[int] = mapped_column(Integer, default=1)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 4), default=Decimal(0))
    category: Mapped[str] = mapped_column(String(64), default="")
    stock: Mapped[int] = mapped_column(Integer, default=0)
    min_order: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = _updated()


class Outlet(IdMixin, TimestampMixin, Base):
    """A customer delivery point; ``phones`` identify it when it orders by message."""

    __tablename__ = "order_outlets"
    __table_args__ = (UniqueConstraint("workspace_id", "code", name="uq_order_outlets_workspace_code"),)

    workspace_id: Mapped[uuid.UUID] = _workspace()
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    aliases: Mapped[list[str]] = mapped_column(ARRAY(String(200)), default=list)
    address: Mapped[str] = mapped_column(Text, default="")
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    phones: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list)
    billing_entity: Mapped[str] = mapped_column(String(200), default="")
    usual_days: Mapped[list[str]] = mapped_column(ARRAY(String(3)), default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = _updated()


class DerivedRule(IdMixin, TimestampMixin, Base):
    """Adds an item that comes with others (e.g. a liner per premium box); see parsing.catalog.DerivedItemRule."""

    __tablename__ = "order_derived_rules"
    __table_args__ = (UniqueConstraint("workspace_id", "name", name="uq_order_derived_rules_workspace_name"),)

    workspace_id: Mapped[uuid.UUID] = _workspace()
    name: Mapped[str] = mapped_column(String(100))
    derived_sku: Mapped[str] = mapped_column(String(64))
    trigger_skus: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    trigger_categories: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    per_trigger_piece: Mapped[Decimal] = mapped_column(Numeric(10, 4), default=Decimal(1))
    skip_if_ordered: Mapped[bool] = mapped_column(Boolean, default=True)
    charged: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="")


class CatalogState(Base):
    """One row per workspace: ``revision`` is bumped by every catalog write, so cached parsers know to rebuild."""

    __tablename__ = "order_catalog_state"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey(_WORKSPACE_FK, ondelete="CASCADE"), primary_key=True
    )
    revision: Mapped[int] = mapped_column(BigInteger, default=0)


class Order(IdMixin, TimestampMixin, Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("workspace_id", "number", name="uq_orders_workspace_number"),
        UniqueConstraint("workspace_id", "source_message_id", name="uq_orders_workspace_source_message"),
        CheckConstraint(
            "status IN ('draft', 'awaiting_confirmation', 'confirmed', 'dispatched', 'delivered', 'cancelled')",
            name="status",
        ),
    )

    workspace_id: Mapped[uuid.UUID] = _workspace()
    number: Mapped[str] = mapped_column(String(32))
    outlet_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("order_outlets.id", ondelete="SET NULL"))
    outlet_code: Mapped[str] = mapped_column(String(64), index=True)
    outlet_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32), default="draft", index=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    source_message_id: Mapped[str | None] = mapped_column(String(200))
    session_id: Mapped[str | None] = mapped_column(String(200), index=True)
    flow_thread_id: Mapped[str | None] = mapped_column(String(300))
    sender_phone: Mapped[str] = mapped_column(String(40), default="")
    message_text: Mapped[str] = mapped_column(Text, default="")
    currency: Mapped[str] = mapped_column(String(3))
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(6, 4))
    subtotal: Mapped[Decimal] = _money()
    tax: Mapped[Decimal] = _money()
    total: Mapped[Decimal] = _money()
    delivery_date: Mapped[date | None] = mapped_column(Date)
    delivery_slot: Mapped[str] = mapped_column(String(32), default="")
    anomalies: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    anomalies_acknowledged: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[list[str]] = mapped_column(JSONB, default=list)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = _updated()


class OrderLine(IdMixin, Base):
    __tablename__ = "order_lines"
    __table_args__ = (UniqueConstraint("order_id", "line_no", name="uq_order_lines_order_line_no"),)

    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(64), index=True)
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(32))
    pack_size: Mapped[int] = mapped_column(Integer, default=1)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    line_total: Mapped[Decimal] = _money()
    derived: Mapped[bool] = mapped_column(Boolean, default=False)  # added by a rule, not asked for
    charged: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str] = mapped_column(Text, default="")


class DeliveryOrder(IdMixin, TimestampMixin, Base):
    """At most one per order (``order_id`` is unique): re-running the flow step finds it instead of adding one."""

    __tablename__ = "delivery_orders"
    __table_args__ = (UniqueConstraint("workspace_id", "number", name="uq_delivery_orders_workspace_number"),)

    workspace_id: Mapped[uuid.UUID] = _workspace()
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    number: Mapped[str] = mapped_column(String(32))
    delivery_date: Mapped[date] = mapped_column(Date, index=True)
    slot: Mapped[str] = mapped_column(String(32), default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)  # DeliveryOrderData.to_dict()
    updated_at: Mapped[datetime] = _updated()


class Invoice(IdMixin, TimestampMixin, Base):
    """At most one per order; ``status`` pending → posted (or failed when accounting refuses it)."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("workspace_id", "number", name="uq_invoices_workspace_number"),
        CheckConstraint("status IN ('pending', 'posted', 'failed', 'cancelled')", name="status"),
    )

    workspace_id: Mapped[uuid.UUID] = _workspace()
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    number: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    backend: Mapped[str] = mapped_column(String(32), default="")
    external_id: Mapped[str | None] = mapped_column(String(200))
    external_url: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    posted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[Decimal] = _money()
    tax: Mapped[Decimal] = _money()
    total: Mapped[Decimal] = _money()
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)  # InvoiceData.to_dict()
    updated_at: Mapped[datetime] = _updated()


class LedgerPostingRow(IdMixin, TimestampMixin, Base):
    """One journal per invoice reference in the local ledger (the default accounting backend)."""

    __tablename__ = "ledger_postings"
    __table_args__ = (UniqueConstraint("workspace_id", "reference", name="uq_ledger_postings_workspace_reference"),)

    workspace_id: Mapped[uuid.UUID] = _workspace()
    posting_id: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str] = mapped_column(String(200))
    invoice_number: Mapped[str] = mapped_column(String(32))
    contact_name: Mapped[str] = mapped_column(String(200))
    posted_on: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))


class LedgerEntryRow(IdMixin, Base):
    __tablename__ = "ledger_entries"

    posting_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("ledger_postings.id", ondelete="CASCADE"), index=True
    )
    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    account_code: Mapped[str] = mapped_column(String(32))
    account_name: Mapped[str] = mapped_column(String(200))
    debit: Mapped[Decimal] = _money()
    credit: Mapped[Decimal] = _money()
    description: Mapped[str] = mapped_column(Text, default="")


class DocumentCounter(Base):
    """The last sequence handed out per (workspace, kind, day); bumped with one upsert, so concurrent safe."""

    __tablename__ = "order_document_counters"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey(_WORKSPACE_FK, ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # ORD | DO | INV
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class InboundMessage(TimestampMixin, Base):
    """A message the order desk has answered: the same message id again gets the same reply, and nothing new."""

    __tablename__ = "order_inbound_messages"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey(_WORKSPACE_FK, ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="processing")  # processing | done
    reply: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class AccountingToken(Base):
    """The latest OAuth token of an accounting connection (Xero rotates refresh tokens: the old one dies)."""

    __tablename__ = "order_accounting_tokens"

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    seed_hash: Mapped[str] = mapped_column(String(64))  # which configured refresh token this chain started from
    token: Mapped[dict[str, Any]] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = _updated()


class DeliveryTemplate(TimestampMixin, Base):
    """A workspace's own delivery-list workbook and the mapping that says where each delivery order goes in it."""

    __tablename__ = "order_delivery_templates"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey(_WORKSPACE_FK, ondelete="CASCADE"), primary_key=True
    )
    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    workbook: Mapped[bytes] = mapped_column(LargeBinary)
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = _updated()
