"""Voice desk: a call's row is written when the call starts (ended_at null: live) and after each turn; updated_at
says when it was last written, so a row whose process died is seen as lost rather than live forever

Revision ID: 0056
Revises: 0055
Create Date: 2026-12-08 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0056"
down_revision: str | None = "0055"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("voice_calls", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("voice_calls", "updated_at")
