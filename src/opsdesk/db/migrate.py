"""Alembic, driven from code: the app and `opsdesk db migrate` apply migrations the same way."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

_MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works; it serialises migrations between processes that start at once.
_LOCK_ID = 7_310_042


def alembic_config(sync_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sync_url.replace("%", "%%"))
    return config


def upgrade_to_head(sync_url: str) -> None:
    """Applies every pending migration, holding an advisory lock so concurrent starts do not race."""
    engine = create_engine(sync_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _LOCK_ID})
            try:
                config = alembic_config(sync_url)
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
                conn.commit()
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _LOCK_ID})
                conn.commit()
    finally:
        engine.dispose()


def status(sync_url: str) -> tuple[str | None, str | None]:
    """(current revision, head revision)."""
    script = ScriptDirectory.from_config(alembic_config(sync_url))
    engine = create_engine(sync_url)
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    return current, script.get_current_head()
