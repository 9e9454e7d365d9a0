"""Planner data: items, inventory units, sales, market data, allocations, outcome feedback and imports

Revision ID: 0043
Revises: 0040 (0042 is followed by 0040 in this chain)
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0043"
down_revision: str | None = "0040"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_IMPORT_FK_TABLES = ("planner_inventory_units", "planner_sales", "planner_market_data", "planner_allocations")


def _common(table: str) -> list[Any]:
    """The id, created_at and workspace columns every planner table starts with."""
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f(f"fk_{table}_workspace_id_workspaces"), ondelete="CASCADE"
        ),
    ]


def _item_column(table: str) -> list[Any]:
    return [
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["planner_items.id"], name=op.f(f"fk_{table}_item_id_planner_items"), ondelete="CASCADE"
        ),
    ]


def _import_column(table: str) -> list[Any]:
    return [
        sa.Column("import_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["planner_imports.id"],
            name=op.f(f"fk_{table}_import_id_planner_imports"),
            ondelete="SET NULL",
        ),
    ]


def _workspace_index(table: str) -> None:
    op.create_index(op.f(f"ix_{table}_workspace_id"), table, ["workspace_id"], unique=False)


def upgrade() -> None:
    op.create_table(
        "planner_imports",
        *_common("planner_imports"),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.String(length=300), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("mapping", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("summary", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.CheckConstraint(
            "kind IN ('items', 'inventory', 'sales', 'market', 'allocations', 'feedback')",
            name=op.f("ck_planner_imports_kind"),
        ),
        sa.UniqueConstraint("workspace_id", "kind", "sha256", name="uq_planner_imports_workspace_kind_sha256"),
    )
    _workspace_index("planner_imports")
    op.create_table(
        "planner_items",
        *_common("planner_items"),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("model_line", sa.String(length=100), nullable=False),
        sa.Column("variant", sa.String(length=200), nullable=False),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("unit_cost", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("unit_price", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("lot_spaces", sa.Numeric(precision=8, scale=3), nullable=False),
        sa.Column("pack_multiple", sa.Integer(), nullable=False),
        sa.Column("lead_time_weeks", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("pack_multiple >= 1", name=op.f("ck_planner_items_pack_multiple")),
        sa.CheckConstraint("lot_spaces >= 0", name=op.f("ck_planner_items_lot_spaces")),
        sa.UniqueConstraint("workspace_id", "key", name="uq_planner_items_workspace_key"),
    )
    _workspace_index("planner_items")
    op.create_index(op.f("ix_planner_items_model_line"), "planner_items", ["model_line"], unique=False)
    op.create_table(
        "planner_inventory_units",
        *_common("planner_inventory_units"),
        *_item_column("planner_inventory_units"),
        *_import_column("planner_inventory_units"),
        sa.Column("snapshot_date", sa.Date(), nullable=False),
        sa.Column("unit_id", sa.String(length=100), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("days_on_lot", sa.Integer(), nullable=True),
        sa.Column("cost", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_planner_inventory_units_quantity")),
        sa.UniqueConstraint(
            "workspace_id", "snapshot_date", "unit_id", name="uq_planner_inventory_units_workspace_snapshot_unit"
        ),
    )
    op.create_table(
        "planner_sales",
        *_common("planner_sales"),
        *_item_column("planner_sales"),
        *_import_column("planner_sales"),
        sa.Column("sale_date", sa.Date(), nullable=False),
        sa.Column("grain", sa.String(length=8), nullable=False),
        sa.Column("source_key", sa.String(length=100), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("price", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("gross", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_planner_sales_quantity")),
        sa.CheckConstraint("grain IN ('day', 'week')", name=op.f("ck_planner_sales_grain")),
        sa.UniqueConstraint(
            "workspace_id", "item_id", "sale_date", "source_key", name="uq_planner_sales_workspace_item_date_source"
        ),
    )
    op.create_index(op.f("ix_planner_sales_sale_date"), "planner_sales", ["sale_date"], unique=False)
    op.create_table(
        "planner_market_data",
        *_common("planner_market_data"),
        *_import_column("planner_market_data"),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("segment", sa.String(length=100), nullable=False),
        sa.Column("item_key", sa.String(length=100), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("share", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("trend", sa.Numeric(precision=12, scale=6), nullable=True),
        sa.CheckConstraint("segment <> '' OR item_key <> ''", name=op.f("ck_planner_market_data_segment_or_item")),
        sa.UniqueConstraint(
            "workspace_id", "period", "segment", "item_key", "region", name="uq_planner_market_data_workspace_row"
        ),
    )
    op.create_table(
        "planner_allocations",
        *_common("planner_allocations"),
        *_import_column("planner_allocations"),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("model_line", sa.String(length=100), nullable=False),
        sa.Column("item_key", sa.String(length=100), nullable=False),
        sa.Column("max_units", sa.Integer(), nullable=False),
        sa.CheckConstraint("model_line <> '' OR item_key <> ''", name=op.f("ck_planner_allocations_line_or_item")),
        sa.CheckConstraint("max_units >= 0", name=op.f("ck_planner_allocations_max_units")),
        sa.UniqueConstraint(
            "workspace_id", "period", "model_line", "item_key", name="uq_planner_allocations_workspace_row"
        ),
    )
    op.create_table(
        "planner_feedback",
        *_common("planner_feedback"),
        *_item_column("planner_feedback"),
        *_import_column("planner_feedback"),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("recommended", sa.Integer(), nullable=True),
        sa.Column("ordered", sa.Integer(), nullable=True),
        sa.Column("sold", sa.Integer(), nullable=True),
        sa.Column("gross_profit", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("days_to_turn", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.UniqueConstraint(
            "workspace_id", "item_id", "period_start", name="uq_planner_feedback_workspace_item_period"
        ),
    )
    for table in (*_IMPORT_FK_TABLES, "planner_feedback"):
        _workspace_index(table)
    for table in ("planner_inventory_units", "planner_sales", "planner_feedback"):
        op.create_index(op.f(f"ix_{table}_item_id"), table, ["item_id"], unique=False)


def downgrade() -> None:
    for table in ("planner_feedback", "planner_allocations", "planner_market_data", "planner_sales"):
        op.drop_table(table)
    op.drop_table("planner_inventory_units")
    op.drop_table("planner_items")
    op.drop_table("planner_imports")
