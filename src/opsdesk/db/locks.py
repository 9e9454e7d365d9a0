"""Locks that hold across API processes: a PostgreSQL session-level advisory lock per name.

One conversation's turns must run one at a time whichever process receives them. Each process keeps an asyncio lock
per name in front (so its own turns queue in memory) and one dedicated connection on which it takes the advisory
locks of every name it holds at the moment: a session-level lock belongs to the connection, so a single connection
can hold many names, and the budget is one connection per process however many turns wait. Waiting is a
`pg_try_advisory_lock` repeated with a growing pause, never a blocking call, so a waiting turn holds no connection;
past the timeout the caller gets `LockBusy` and answers "still working", as a repeated delivery is answered.

If the connection dies, PostgreSQL releases its locks: a process that loses it logs `named_lock_connection_lost`
and reconnects for the next holder (the flows' side effects are idempotent, so an overlap then costs no
duplicates).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import Counter, Histogram
from sqlalchemy.engine import make_url

from opsdesk.core.errors import OpsdeskError
from opsdesk.core.logging import get_logger

_log = get_logger(__name__)
_EXTRAS_KEY = "db.named_locks"
# The first key of the two-int advisory lock form: names of this module never collide with other advisory locks.
_NAMESPACE = 0x6F70_6C6B
LOCK_TIMEOUT_S = 30.0
_FIRST_PAUSE_S = 0.02
_LONGEST_PAUSE_S = 0.25

LOCK_WAIT_SECONDS = Histogram(
    "opsdesk_named_lock_wait_seconds",
    "Time to take a cross-process lock (conversation turns), including the in-process queue.",
    buckets=(0.001, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30),
)
LOCK_TIMEOUTS = Counter("opsdesk_named_lock_timeouts_total", "Cross-process locks given up after the timeout.")


class LockBusy(OpsdeskError):
    """Another process has held the lock for longer than the caller may wait."""

    status_code = 503
    error_type = "busy"


def plain_dsn(url: str) -> str:
    """A libpq/asyncpg DSN from a SQLAlchemy URL (driver name dropped)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class NamedLocks:
    """The cross-process locks of one process."""

    def __init__(self, database_url: str, *, timeout_s: float = LOCK_TIMEOUT_S) -> None:
        self._dsn = plain_dsn(database_url)
        self.timeout_s = timeout_s
        self._local: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._conn: Any = None
        self._io = asyncio.Lock()  # one statement at a time on the shared connection

    def _local_lock(self, name: str) -> asyncio.Lock:
        lock = self._local.get(name)
        if lock is None:
            lock = self._local[name] = asyncio.Lock()
        return lock

    @asynccontextmanager
    async def hold(self, name: str, *, timeout_s: float | None = None) -> AsyncIterator[None]:
        """Holds `name` in every process until the block ends; `LockBusy` after `timeout_s` of waiting elsewhere."""
        started = time.monotonic()
        local = self._local_lock(name)
        async with local:
            deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
            conn = await self._acquire(name, deadline)
            LOCK_WAIT_SECONDS.observe(time.monotonic() - started)
            try:
                yield
            finally:
                await self._release(conn, name)

    async def _acquire(self, name: str, deadline: float) -> Any:
        pause = _FIRST_PAUSE_S
        while True:
            conn = await self._connection()
            try:
                async with self._io:
                    taken = await conn.fetchval("SELECT pg_try_advisory_lock($1, hashtext($2))", _NAMESPACE, name)
            except Exception as exc:
                if not conn.is_closed():
                    raise
                _log.warning("named_lock_connection_lost", error=f"{type(exc).__name__}: {exc}")
                await self._drop(conn)
                taken = False
            if taken:
                return conn
            if time.monotonic() + pause > deadline:
                LOCK_TIMEOUTS.inc()
                _log.warning("named_lock_busy", name=name)
                raise LockBusy(f"'{name}' is busy in another process.", code="busy")
            await asyncio.sleep(pause)
            pause = min(pause * 2, _LONGEST_PAUSE_S)

    async def _release(self, conn: Any, name: str) -> None:
        if conn is not self._conn or conn.is_closed():
            return  # the connection went away, and PostgreSQL released its locks with it
        try:
            async with self._io:
                await conn.execute("SELECT pg_advisory_unlock($1, hashtext($2))", _NAMESPACE, name)
        except Exception as exc:  # a broken connection has released the lock anyway
            _log.warning("named_lock_connection_lost", error=f"{type(exc).__name__}: {exc}")
            await self._drop(conn)

    async def _connection(self) -> Any:
        conn = self._conn
        if conn is not None and not conn.is_closed():
            return conn
        if conn is not None:
            _log.warning("named_lock_connection_lost", error="closed")
        import asyncpg

        async with self._io:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(self._dsn, timeout=10)
            return self._conn

    async def _drop(self, conn: Any) -> None:
        if self._conn is conn:
            self._conn = None
        try:
            await conn.close(timeout=1)
        except Exception:  # already broken
            conn.terminate()

    async def aclose(self) -> None:
        if self._conn is not None:
            await self._drop(self._conn)


def named_locks(extras: dict[str, Any], database_url: str) -> NamedLocks:
    """The process's locks, kept in the app context's extras (closed with it)."""
    locks = extras.get(_EXTRAS_KEY)
    if not isinstance(locks, NamedLocks):
        locks = extras[_EXTRAS_KEY] = NamedLocks(database_url)
    return locks
