"""Planner: units on order (expected from the maker, not yet on the lot), a seventh import kind

Revision ID: 0046
Revises: 0045
Create Date: 2026-12-06 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0046"
down_revision: str | None = "0045"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "planner_on_order"
_KINDS_BEFORE = "('items', 'inventory', 'sales', 'market', 'allocations', 'feedback')"
_KINDS_AFTER = "('items', 'inventory', 'sales', 'market', 'allocations', 'feedback', 'on_order')"


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("import_id", sa.Uuid(), nullable=True),
        sa.Column("expected_week", sa.Date(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{_TABLE}")),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f(f"fk_{_TABLE}_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["planner_items.id"], name=op.f(f"fk_{_TABLE}_item_id_planner_items"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["planner_imports.id"],
            name=op.f(f"fk_{_TABLE}_import_id_planner_imports"),
            ondelete="SET NULL",
        ),
        sa.UniqueConstraint(
            "workspace_id", "item_id", "expected_week", "reference", name="uq_planner_on_order_workspace_row"
        ),
        sa.CheckConstraint("quantity >= 0", name=op.f(f"ck_{_TABLE}_quantity")),
    )
    op.create_index(op.f(f"ix_{_TABLE}_workspace_id"), _TABLE, ["workspace_id"], unique=False)
    op.create_index(op.f(f"ix_{_TABLE}_item_id"), _TABLE, ["item_id"], unique=False)
    op.drop_constraint(op.f("ck_planner_imports_kind"), "planner_imports", type_="check")
    op.create_check_constraint(op.f("ck_planner_imports_kind"), "planner_imports", f"kind IN {_KINDS_AFTER}")


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM planner_imports WHERE kind = 'on_order'"))
    op.drop_constraint(op.f("ck_planner_imports_kind"), "planner_imports", type_="check")
    op.create_check_constraint(op.f("ck_planner_imports_kind"), "planner_imports", f"kind IN {_KINDS_BEFORE}")
    op.drop_table(_TABLE)
