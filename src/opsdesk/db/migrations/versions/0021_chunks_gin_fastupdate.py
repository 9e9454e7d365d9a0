"""chunks full-text index without a pending list

Revision ID: 0021
Revises: 0010
Create Date: 2026-11-22 01:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Entries already pending are merged by the next VACUUM; new ones go straight into the index.
    op.execute("ALTER INDEX ix_chunks_tsv SET (fastupdate = off)")


def downgrade() -> None:
    op.execute("ALTER INDEX ix_chunks_tsv RESET (fastupdate)")
