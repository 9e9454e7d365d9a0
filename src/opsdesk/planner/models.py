"""Planner tables: items, inventory snapshots, sales, market data, allocations, outcome feedback and the imports
that filled them. Every row belongs to a workspace; the natural keys are unique so importing again changes nothing.

Inventory, sales and feedback rows point at an item by id. Market and allocation rows name an item key *or* a
segment / model line as text, because the maker and the market speak of lines and segments we may not stock."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.auth import models as _auth_models  # noqa: F401  (registers the workspaces table our keys name)
from opsdesk.db.base import Base, IdMixin, TimestampMixin, utcnow

IMPORT_KINDS = ("items", "inventory", "sales", "market", "allocations", "feedback", "on_order")
SALES_GRAINS = ("day", "week")
_WORKSPACE_FK = "workspaces.id"
_ITEM_FK = "planner_items.id"


def _workspace() -> Mapped[uuid.UUID]:
    return mapped_column(Uuid, ForeignKey(_WORKSPACE_FK, ondelete="CASCADE"), index=True)


def _item() -> Mapped[uuid.UUID]:
    return mapped_column(Uuid, ForeignKey(_ITEM_FK, ondelete="CASCADE"), index=True)


def _money() -> Mapped[Decimal | None]:
    return mapped_column(Numeric(14, 2))


def _updated() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class PlannerItem(IdMixin, TimestampMixin, Base):
    """What is ordered and sold: a vehicle configuration, a SKU, or (retail) a store; ``key`` is the file's id."""

    __tablename__ = "planner_items"
    __table_args__ = (
        UniqueConstraint("workspace_id", "key", name="uq_planner_items_workspace_key"),
        CheckConstraint("pack_multiple >= 1", name="pack_multiple"),
        CheckConstraint("lot_spaces >= 0", name="lot_spaces"),
    )

    workspace_id: Mapped[uuid.UUID] = _workspace()
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300), default="")
    model_line: Mapped[str] = mapped_column(String(100), default="", index=True)
    variant: Mapped[str] = mapped_column(String(200), default="")  # trim, variant or version
    options: Mapped[str] = mapped_column(Text, default="")
    unit_cost: Mapped[Decimal | None] = _money()
    unit_price: Mapped[Decimal | None] = _money()
    lot_spaces: Mapped[Decimal] = mapped_column(Numeric(8, 3), default=Decimal(1))  # room one unit takes
    pack_multiple: Mapped[int] = mapped_column(Integer, default=1)  # orders come in multiples of this
    lead_time_weeks: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = _updated()


class InventoryUnit(IdMixin, TimestampMixin, Base):
    """One unit in stock on a snapshot date (a VIN, a stock number, or an item's count with ``quantity``)."""

    __tablename__ = "planner_inventory_units"
    __table_args__ = (
        UniqueConstraint(
            "workspace_id", "snapshot_date", "unit_id", name="uq_planner_inventory_units_workspace_snapshot_unit"
        ),
        CheckConstraint("quantity >= 0", name="quantity"),
    )

    workspace_id: Mapped[uuid.UUID] = _workspace()
    snapshot_date: Mapped[date] = mapped_column(Date)
    unit_id: Mapped[str] = mapped_column(String(100))
    item_id: Mapped[uuid.UUID] = _item()
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3), default=Decimal(1))
    days_on_lot: Mapped[int | None] = mapped_column(Integer)
    cost: Mapped[Decimal | None] = _money()
    import_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("planner_imports.id", ondelete="SET NULL"))


class Sale(IdMixin, TimestampMixin, Base):
    """Units of an item sold on a day or in a week; ``source_key`` (a deal or invoice number) tells rows apart."""

    __tablename__ = "planner_sales"
    __table_args__ = (
        UniqueConstraint(
            "workspace_id", "item_id", "sale_date", "source_key", name="uq_planner_sales_workspace_item_date_source"
        ),
        CheckConstraint("quantity >= 0", name="quantity"),
        CheckConstraint("grain IN ('day', 'week')", name="grain"),
    )

    workspace_id: Mapped[uuid.UUID] = _workspace()
    item_id: Mapped[uuid.UUID] = _item()
    sale_date: Mapped[date] = mapped_column(Date, index=True)
    grain: Mapped[str] = mapped_column(String(8), default="week")
    source_key: Mapped[str] = mapped_column(String(100), default="")
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    price: Mapped[Decimal | None] = _money()
    gross: Mapped[Decimal | None] = _money()
    import_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("planner_imports.id", ondelete="SET NULL"))


class MarketData(IdMixin, TimestampMixin, Base):
    """A segment's or an item's share and trend in a region for a period (share as a fraction, 0.12 = 12 %)."""

    __tablename__ = "planner_market_data"
    __table_args__ = (
        UniqueConstraint(
            "workspace_id", "period", "segment", "item_key", "region", name="uq_planner_market_data_workspace_row"
        ),
        CheckConstraint("segment <> '' OR item_key <> ''", name="segment_or_item"),
    )

    workspace_id: Mapped[uuid.UUID] = _workspace()
    period: Mapped[date] = mapped_column(Date)
    segment: Mapped[str] = mapped_column(String(100), default="")
    item_key: Mapped[str] = mapped_column(String(100), default="")
    region: Mapped[str] = mapped_column(String(100), default="")
    share: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    trend: Mapped[Decimal | None] = mapped_column(Numeric(12, 6))
    import_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("planner_imports.id", ondelete="SET NULL"))


class Allocation(IdMixin, TimestampMixin, Base):
    """The most units the maker will supply of a model line or an item in a period."""

    __tablename__ = "planner_allocations"
    __table_args__ = (
        UniqueConstraint(
            "workspace_id", "period", "model_line", "item_key", name="uq_planner_allocations_workspace_row"
        ),
        CheckConstraint("model_line <> '' OR item_key <> ''", name="line_or_item"),
        CheckConstraint("max_units >= 0", name="max_units"),
    )

    workspace_id: Mapped[uuid.UUID] = _workspace()
    period: Mapped[date] = mapped_column(Date)
    model_line: Mapped[str] = mapped_column(String(100), default="")
    item_key: Mapped[str] = mapped_column(String(100), default="")
    max_units: Mapped[int] = mapped_column(Integer)
    import_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("planner_imports.id", ondelete="SET NULL"))


class OnOrder(IdMixin, TimestampMixin, Base):
    """Units ordered from the maker and not yet on the lot: how many of an item are expected in which week."""

    __tablename__ = "planner_on_order"
    __table_args__ = (
        UniqueConstraint(
            "workspace_id", "item_id", "expected_week", "reference", name="uq_planner_on_order_workspace_row"
        ),
        CheckConstraint("quantity >= 0", name="quantity"),
    )

    workspace_id: Mapped[uuid.UUID] = _workspace()
    item_id: Mapped[uuid.UUID] = _item()
    expected_week: Mapped[date] = mapped_column(Date)
    quantity: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(100), default="")  # a purchase order or VIN, when the file has one
    import_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("planner_imports.id", ondelete="SET NULL"))


class OutcomeFeedback(IdMixin, TimestampMixin, Base):
    """What was recommended, ordered and sold for an item in a period, and what it earned."""

    __tablename__ = "planner_feedback"
    __table_args__ = (
        UniqueConstraint("workspace_id", "item_id", "period_start", name="uq_planner_feedback_workspace_item_period"),
    )

    workspace_id: Mapped[uuid.UUID] = _workspace()
    item_id: Mapped[uuid.UUID] = _item()
    period_start: Mapped[date] = mapped_column(Date)
    recommended: Mapped[int | None] = mapped_column(Integer)
    ordered: Mapped[int | None] = mapped_column(Integer)
    sold: Mapped[int | None] = mapped_column(Integer)
    gross_profit: Mapped[Decimal | None] = _money()
    days_to_turn: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    import_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("planner_imports.id", ondelete="SET NULL"))


class PlannerImport(IdMixin, TimestampMixin, Base):
    """One imported file: the same content (``sha256``) imported again as the same kind is recognised and skipped."""

    __tablename__ = "planner_imports"
    __table_args__ = (
        UniqueConstraint("workspace_id", "kind", "sha256", name="uq_planner_imports_workspace_kind_sha256"),
        CheckConstraint(f"kind IN {IMPORT_KINDS}", name="kind"),
    )

    workspace_id: Mapped[uuid.UUID] = _workspace()
    kind: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    mapping: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)  # field → the header it was read from
    summary: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)  # created / updated / unchanged counts
    created_by: Mapped[str] = mapped_column(String(320), default="")
