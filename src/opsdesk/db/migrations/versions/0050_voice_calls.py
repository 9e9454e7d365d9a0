"""Voice desk: one record per call (`voice_calls`) — caller, times, intents, auth outcome, transfers, end reason,
per-stage latencies and the transcript with PINs, card and account numbers masked

Revision ID: 0050
Revises: 0049
Create Date: 2026-12-07 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0050"
down_revision: str | None = "0049"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "voice_calls"


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("call_id", sa.String(length=200), nullable=False),
        sa.Column("caller", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("intents", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("auth_outcome", sa.String(length=32), nullable=False),
        sa.Column("transfers", sa.SmallInteger(), nullable=False),
        sa.Column("transfer_summary", sa.Text(), nullable=True),
        sa.Column("end_reason", sa.String(length=64), nullable=False),
        sa.Column("stage_latencies", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("transcript", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{_TABLE}")),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f(f"fk_{_TABLE}_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.UniqueConstraint("workspace_id", "call_id", name="uq_voice_calls_workspace_call_id"),
    )
    op.create_index("ix_voice_calls_workspace_started", _TABLE, ["workspace_id", "started_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_voice_calls_workspace_started", table_name=_TABLE)
    op.drop_table(_TABLE)
