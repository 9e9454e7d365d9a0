"""Event bus: the `event_outbox` relayed to RabbitMQ (or in process) and the consumers' `event_consumptions`

Revision ID: 0047
Revises: 0046
Create Date: 2026-12-06 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0047"
down_revision: str | None = "0046"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_outbox",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=True),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_event_outbox_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_outbox")),
        sa.UniqueConstraint("seq", name=op.f("uq_event_outbox_seq")),
    )
    op.create_index(
        "ix_event_outbox_unsent",
        "event_outbox",
        ["seq"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_index(
        "ix_event_outbox_unsent_key",
        "event_outbox",
        ["key", "seq"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_index(
        "ix_event_outbox_published",
        "event_outbox",
        ["published_at"],
        unique=False,
        postgresql_where=sa.text("published_at IS NOT NULL"),
    )
    op.create_table(
        "event_consumptions",
        sa.Column("queue", sa.String(length=200), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('processed', 'failed', 'dead')", name=op.f("ck_event_consumptions_status")),
        sa.PrimaryKeyConstraint("queue", "event_id", name=op.f("pk_event_consumptions")),
    )
    op.create_index("ix_event_consumptions_updated_at", "event_consumptions", ["updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_event_consumptions_updated_at", table_name="event_consumptions")
    op.drop_table("event_consumptions")
    op.drop_index(
        "ix_event_outbox_published", table_name="event_outbox", postgresql_where=sa.text("published_at IS NOT NULL")
    )
    op.drop_index(
        "ix_event_outbox_unsent_key", table_name="event_outbox", postgresql_where=sa.text("published_at IS NULL")
    )
    op.drop_index("ix_event_outbox_unsent", table_name="event_outbox", postgresql_where=sa.text("published_at IS NULL"))
    op.drop_table("event_outbox")
