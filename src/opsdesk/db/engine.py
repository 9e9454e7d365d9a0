"""The database: one async engine per process, one session helper, migrations applied at start."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from opsdesk.core import telemetry
from opsdesk.core.errors import ConfigurationError
from opsdesk.core.logging import get_logger
from opsdesk.core.priority import lower_process_priority
from opsdesk.core.settings import Settings
from opsdesk.db.embedded import EmbeddedPostgres

_log = get_logger(__name__)
# How long a readiness answer is reused: a flood of /readyz calls costs one probe a second.
READY_CACHE_S = 1.0
PROBE_TIMEOUT_S = 1.0
SUPERVISE_EVERY_S = 0.5
RESTART_BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)


def to_async_url(url: str) -> str:
    """Accepts postgres://, postgresql:// or a driver-qualified URL and names the asyncpg driver."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.get_backend_name() != "postgresql":
        raise ConfigurationError(f"OPSDESK_DATABASE_URL must point at PostgreSQL, not {parsed.get_backend_name()}")
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def to_sync_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def _is_local(url: str) -> bool:
    """True when the server is on this machine (loopback host or a Unix socket)."""
    parsed = make_url(url)
    host = parsed.host or str(parsed.query.get("host", ""))
    return host in ("", "localhost", "127.0.0.1", "::1") or host.startswith("/")


def _lower_priority(dbapi_connection: Any, nice: int) -> None:
    """Renices the PostgreSQL server process behind a new connection (when it is ours to renice)."""
    lower_process_priority(dbapi_connection.driver_connection.get_server_pid(), nice, expected_name="postgres")


class Database:
    """Owns the engine and, when no URL is configured, the embedded server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embedded: EmbeddedPostgres | None = None
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._background_engine: AsyncEngine | None = None
        self._background_sessions: async_sessionmaker[AsyncSession] | None = None
        self.url: str = ""
        self._ready: tuple[float, bool] = (-READY_CACHE_S, False)
        self._ready_lock = asyncio.Lock()
        self._supervisor: asyncio.Task[None] | None = None
        self.restarts = 0

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
        # Every process (API, worker, CLI) opens the database first: tracing is set up here, before any statement.
        telemetry.configure(self.settings.otel_endpoint, service_name=self.settings.otel_service_name)
        if not self.url:
            await asyncio.to_thread(self.start_server)
        self._engine = create_async_engine(
            self.url,
            pool_size=self.settings.db_pool_size,
            max_overflow=self.settings.db_pool_size,
            pool_pre_ping=True,
            connect_args={"timeout": 10, "command_timeout": 60},
        )
        telemetry.instrument_engine(self._engine.sync_engine)
        self._sessions = async_sessionmaker(self._engine, expire_on_commit=False)
        await self._check_pgvector()
        if migrate:
            from opsdesk.db.migrate import upgrade_to_head

            await asyncio.to_thread(upgrade_to_head, to_sync_url(self.url))
        if self.embedded is not None and self._supervisor is None:
            self._supervisor = asyncio.create_task(self._supervise(), name="embedded-postgres-supervisor")

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

    @asynccontextmanager
    async def background_session(self) -> AsyncIterator[AsyncSession]:
        """Like `session`, for bulk work (ingestion writes): on a small pool of its own whose server processes run
        at a lower CPU priority (`worker_nice`) when PostgreSQL runs on this machine, so that building indexes for
        new chunks leaves the CPU to queries. Elsewhere (or with worker_nice 0) it is the normal pool."""
        if self._background_sessions is None:
            self._background_sessions = self._make_background_sessions()
        async with self._background_sessions() as session, session.begin():
            yield session

    def _make_background_sessions(self) -> async_sessionmaker[AsyncSession]:
        nice = self.settings.worker_nice
        if self._sessions is None:
            raise RuntimeError("Database.connect() has not run")
        if nice <= 0 or not (self.embedded is not None or _is_local(self.url)):
            return self._sessions
        engine = create_async_engine(
            self.url,
            pool_size=2,
            max_overflow=2,
            pool_pre_ping=True,
            connect_args={"timeout": 10, "command_timeout": 120},
        )
        event.listen(engine.sync_engine, "connect", lambda connection, _: _lower_priority(connection, nice))
        telemetry.instrument_engine(engine.sync_engine)
        self._background_engine = engine
        return async_sessionmaker(engine, expire_on_commit=False)

    async def ping(self, timeout_s: float = 2.0) -> bool:
        """One round trip to the server within `timeout_s` (connecting included)."""
        try:
            async with asyncio.timeout(timeout_s), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def ready(self) -> bool:
        """Whether the database answers, probed at most once per READY_CACHE_S however many callers ask."""
        checked_at, ok = self._ready
        if time.monotonic() - checked_at < READY_CACHE_S:
            return ok
        async with self._ready_lock:
            checked_at, ok = self._ready
            if time.monotonic() - checked_at < READY_CACHE_S:
                return ok
            ok = await self.ping(PROBE_TIMEOUT_S)
            self._ready = (time.monotonic(), ok)
            return ok

    async def _supervise(self) -> None:
        """Restarts the embedded server when its postmaster dies (kill -9, OOM killer), with backoff."""
        embedded = self.embedded
        while embedded is not None:
            await asyncio.sleep(SUPERVISE_EVERY_S)
            if await asyncio.to_thread(embedded.is_running):
                continue
            _log.error("embedded_postgres_died", pid=embedded.pid)
            self._ready = (time.monotonic(), False)
            for attempt in range(1_000_000):
                try:
                    await asyncio.to_thread(embedded.restart)
                    break
                except Exception as exc:  # keep trying: the server's children may still hold its shared memory
                    delay = RESTART_BACKOFF_S[min(attempt, len(RESTART_BACKOFF_S) - 1)]
                    _log.warning(
                        "embedded_postgres_restart_failed", error=f"{type(exc).__name__}: {exc}", retry_s=delay
                    )
                    await asyncio.sleep(delay)
            self.restarts += 1
            self._ready = (-READY_CACHE_S, False)
            # Pooled connections point at the dead server; drop them without talking to it.
            for engine in (self._engine, self._background_engine):
                if engine is not None:
                    await engine.dispose(close=False)
            _log.warning("embedded_postgres_restarted", pid=embedded.pid)

    async def close(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            try:
                await self._supervisor
            except (asyncio.CancelledError, Exception):
                pass
            self._supervisor = None
        if self._background_engine is not None:
            await self._background_engine.dispose()
            self._background_engine = None
            self._background_sessions = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    def stop_server(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None
