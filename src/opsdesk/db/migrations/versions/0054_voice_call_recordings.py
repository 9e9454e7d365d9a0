"""Voice desk: a call record names the WAV file its caller's audio was kept in (null when not recorded, or once
the recording retention has deleted the file)

Revision ID: 0054
Revises: 0053
Create Date: 2026-12-07 04:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0054"
down_revision: str | None = "0053"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("voice_calls", sa.Column("recording", sa.String(length=1000), nullable=True))


def downgrade() -> None:
    op.drop_column("voice_calls", "recording")
