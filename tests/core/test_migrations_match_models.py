"""The migrations build the schema the models describe: Alembic's autogenerate finds nothing left to do."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from opsdesk.app.registry import metadata
from opsdesk.db.engine import to_sync_url


def test_a_migrated_database_matches_the_models(database_url: str) -> None:
    engine = create_engine(to_sync_url(database_url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences: list[Any] = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_the_full_text_index_has_no_pending_list(database_url: str) -> None:
    """Bulk ingestion would otherwise fill GIN's pending list, which every keyword query then scans."""
    engine = create_engine(to_sync_url(database_url))
    try:
        with engine.connect() as conn:
            options = conn.exec_driver_sql("SELECT reloptions FROM pg_class WHERE relname = 'ix_chunks_tsv'").scalar()
    finally:
        engine.dispose()
    assert options == ["fastupdate=off"]
