"""conversation: sessions, messages, escalations, semantic answer cache

Revision ID: 0010
Revises: 0020
Create Date: 2026-11-22 10:00:00
"""

from collections.abc import Sequence
from typing import Any

import pgvector.sqlalchemy
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id_and_created() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    ]


def _workspace_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["workspace_id"], ["workspaces.id"], name=f"fk_{table}_workspace_id_workspaces", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "conversation_sessions",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("sender", sa.String(length=128), nullable=False),
        sa.Column("sender_name", sa.String(length=200), nullable=True),
        sa.Column("solution", sa.String(length=50), nullable=False),
        sa.Column("state", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_intent", sa.String(length=32), nullable=True),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        *_id_and_created(),
        _workspace_fk("conversation_sessions"),
        sa.PrimaryKeyConstraint("id", name="pk_conversation_sessions"),
    )
    op.create_index(
        "uq_conversation_sessions_live",
        "conversation_sessions",
        ["workspace_id", "channel", "solution", "sender"],
        unique=True,
        postgresql_where=sa.text("status <> 'closed'"),
    )
    op.create_index(
        "ix_conversation_sessions_workspace_activity", "conversation_sessions", ["workspace_id", "last_activity_at"]
    )

    op.create_table(
        "conversation_messages",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("masked_text", sa.Text(), nullable=False),
        sa.Column("intent", sa.String(length=32), nullable=True),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reply_to_id", sa.Uuid(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        *_id_and_created(),
        _workspace_fk("conversation_messages"),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["conversation_sessions.id"],
            name="fk_conversation_messages_session_id_conversation_sessions",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reply_to_id"],
            ["conversation_messages.id"],
            name="fk_conversation_messages_reply_to_id_conversation_messages",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_conversation_messages"),
        sa.UniqueConstraint("workspace_id", "channel", "external_id", name="uq_conversation_messages_external"),
    )
    op.create_index("ix_conversation_messages_session_created", "conversation_messages", ["session_id", "created_at"])
    op.create_index("ix_conversation_messages_created_at", "conversation_messages", ["created_at"])
    op.create_index("ix_conversation_messages_reply_to_id", "conversation_messages", ["reply_to_id"])

    op.create_table(
        "conversation_escalations",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("complaint", sa.Boolean(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("notes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("history", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        *_id_and_created(),
        _workspace_fk("conversation_escalations"),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["conversation_sessions.id"],
            name="fk_conversation_escalations_session_id_conversation_sessions",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["conversation_messages.id"],
            name="fk_conversation_escalations_message_id_conversation_messages",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_conversation_escalations"),
    )
    op.create_index(
        "ix_conversation_escalations_inbox", "conversation_escalations", ["workspace_id", "status", "sla_due_at"]
    )
    op.create_index("ix_conversation_escalations_session", "conversation_escalations", ["session_id"])

    op.create_table(
        "conversation_semantic_cache",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("solution", sa.String(length=50), nullable=False),
        sa.Column("kb_version", sa.String(length=100), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("prompt_version", sa.String(length=64), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("embedding", pgvector.sqlalchemy.Vector(dim=384), nullable=False),
        sa.Column("answer", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        *_id_and_created(),
        _workspace_fk("conversation_semantic_cache"),
        sa.PrimaryKeyConstraint("id", name="pk_conversation_semantic_cache"),
    )
    # Lookups compare exactly within one (workspace, scope): a scope holds hundreds to a few thousand questions,
    # where an exact scan is fast and, unlike a filtered ANN index, never misses a close match.
    op.create_index(
        "ix_conversation_semantic_cache_scope",
        "conversation_semantic_cache",
        ["workspace_id", "scope", "expires_at"],
    )


def downgrade() -> None:
    op.drop_table("conversation_semantic_cache")
    op.drop_table("conversation_escalations")
    op.drop_table("conversation_messages")
    op.drop_table("conversation_sessions")
