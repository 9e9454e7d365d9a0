"""WhatsApp Cloud API: a workspace's connected number and the queue of acknowledged messages

Revision ID: 0031
Revises: 0030
Create Date: 2026-11-23 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "whatsapp_channels",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("phone_number_id", sa.String(length=64), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("app_secret", sa.String(length=200), nullable=False),
        sa.Column("verify_token", sa.String(length=200), nullable=False),
        sa.Column("graph_base_url", sa.String(length=500), nullable=False),
        sa.Column("api_version", sa.String(length=16), nullable=False),
        sa.Column("solution", sa.String(length=50), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_whatsapp_channels_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_whatsapp_channels")),
        sa.UniqueConstraint("phone_number_id", name=op.f("uq_whatsapp_channels_phone_number_id")),
    )
    op.create_table(
        "whatsapp_inbound",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("phone_number_id", sa.String(length=64), nullable=False),
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("value", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("parts_sent", sa.Integer(), nullable=False),
        sa.Column("reply_message_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_whatsapp_inbound_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_inbound")),
        sa.UniqueConstraint("workspace_id", "message_id", name="uq_whatsapp_inbound_message"),
    )
    op.create_index(
        "ix_whatsapp_inbound_due",
        "whatsapp_inbound",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_index(
        "ix_whatsapp_inbound_workspace_created", "whatsapp_inbound", ["workspace_id", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_whatsapp_inbound_workspace_created", table_name="whatsapp_inbound")
    op.drop_index(
        "ix_whatsapp_inbound_due", table_name="whatsapp_inbound", postgresql_where=sa.text("status = 'queued'")
    )
    op.drop_table("whatsapp_inbound")
    op.drop_table("whatsapp_channels")
