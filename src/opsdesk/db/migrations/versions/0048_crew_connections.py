"""Crew: a workspace's Jira, Confluence and GitLab connections (`crew_connections`, token encrypted)

Revision ID: 0048
Revises: 0047
Create Date: 2026-12-06 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0048"
down_revision: str | None = "0047"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "crew_connections"


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("vendor", sa.String(length=20), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=True),
        sa.Column("token_encrypted", sa.Text(), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("vendor IN ('jira', 'confluence', 'gitlab')", name=op.f(f"ck_{_TABLE}_vendor")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{_TABLE}")),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f(f"fk_{_TABLE}_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.UniqueConstraint("workspace_id", "vendor", name="uq_crew_connections_workspace_vendor"),
    )
    op.create_index(op.f(f"ix_{_TABLE}_workspace_id"), _TABLE, ["workspace_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f(f"ix_{_TABLE}_workspace_id"), table_name=_TABLE)
    op.drop_table(_TABLE)
