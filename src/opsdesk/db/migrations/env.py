"""Alembic environment: runs on the connection handed over by opsdesk.db.migrate, or opens one from the URL."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine

from opsdesk.app.registry import metadata

config = context.config


def _run(connection: Any) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()
