"""A test PostgreSQL with pgvector: the embedded server once per session, a fresh database per test."""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from opsdesk.db.embedded import EmbeddedPostgres
from opsdesk.db.migrate import upgrade_to_head

TEMPLATE = "opsdesk_template"
_counter = itertools.count()


class TestDatabases:
    __test__ = False

    """Creates each test's database from a migrated template, which takes milliseconds."""

    def __init__(self) -> None:
        external = os.environ.get("OPSDESK_TEST_DATABASE_URL")
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._server: EmbeddedPostgres | None = None
        if external:
            self.admin_url = make_url(external).set(drivername="postgresql+psycopg")
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="opsdesk-test-pg-")
            os.chmod(self._tmp.name, 0o755)
            self._server = EmbeddedPostgres(Path(self._tmp.name), cleanup_mode="delete")
            self._server.start()
            self.admin_url = make_url(self._server.url("psycopg"))
        self._admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        self._prepare_template()

    def _url(self, database: str) -> str:
        return self.admin_url.set(database=database).render_as_string(hide_password=False)

    def _prepare_template(self) -> None:
        with self._admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {TEMPLATE}"))
        upgrade_to_head(self._url(TEMPLATE))

    def create(self) -> str:
        """A new database with the full schema; returns its asyncpg URL."""
        name = f"opsdesk_t{os.getpid()}_{next(_counter)}"
        with self._admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
        return make_url(self._url(name)).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self._admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))

    def close(self) -> None:
        self._admin.dispose()
        if self._server is not None:
            self._server.stop()
        if self._tmp is not None:
            self._tmp.cleanup()


def each_database(dbs: TestDatabases) -> Iterator[str]:
    url = dbs.create()
    try:
        yield url
    finally:
        dbs.drop(url)
