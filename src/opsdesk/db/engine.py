"""The database: one async engine per process, one session helper, migrations applied at start."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from opsdesk.core.errors import ConfigurationError
from opsdesk.core.settings import Settings
from opsdesk.db.embedded import EmbeddedPostgres


def to_async_url(url: str) -> str:
    """Accepts postgres://, postgresql:// or a driver-qualified URL and names the asyncpg driver."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.get_backend_name() != "postgresql":
        raise ConfigurationError(f"OPSDESK_DATABASE_URL must point at PostgreSQL, not {parsed.get_backend_name()}")
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def to_sync_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


class Database:
    """Owns the engine and, when no URL is configured, the embedded server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embedded: EmbeddedPostgres | None = None
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self.url: str = ""

    def start_server(self) -> None:
        """Resolves the URL, starting the embedded server if none is configured (blocking)."""
        if self.settings.database_url is not None:
            self.url = to_async_url(self.settings.database_url.get_secret_value())
            return
        self.embedded = EmbeddedPostgres(self.settings.data_dir)
        self.embedded.start()
        self.url = self.embedded.url("asyncpg")

    async def connect(self, *, migrate: bool = True) -> None:
        """Starts the server if needed, checks pgvector, applies migrations and opens the pool."""
        if not self.url:
            await asyncio.to_thread(self.start_server)
        self._engine = create_async_engine(
            self.url,
            pool_size=self.settings.db_pool_size,
            max_overflow=self.settings.db_pool_size,
            pool_pre_ping=True,
            connect_args={"timeout": 10, "command_timeout": 60},
        )
        self._sessions = async_sessionmaker(self._engine, expire_on_commit=False)
        await self._check_pgvector()
        if migrate:
            from opsdesk.db.migrate import upgrade_to_head

            await asyncio.to_thread(upgrade_to_head, to_sync_url(self.url))

    async def _check_pgvector(self) -> None:
        async with self.engine.connect() as conn:
            available = await conn.scalar(text("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'"))
        if not available:
            raise ConfigurationError(
                "The PostgreSQL at OPSDESK_DATABASE_URL lacks the 'vector' extension (pgvector). Install pgvector "
                "on that server (e.g. the pgvector/pgvector image or the postgresql-NN-pgvector package), or unset "
                "OPSDESK_DATABASE_URL to use the embedded PostgreSQL."
            )

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("Database.connect() has not run")
        return self._engine

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed on success, rolled back on error."""
        if self._sessions is None:
            raise RuntimeError("Database.connect() has not run")
        async with self._sessions() as session, session.begin():
            yield session

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await asyncio.wait_for(conn.execute(text("SELECT 1")), timeout=2)
            return True
        except Exception:
            return False

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    def stop_server(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None
