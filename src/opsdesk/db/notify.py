"""PostgreSQL notifications for many waiters of one process, on one LISTEN connection of its own.

A writer calls ``notify`` in the transaction that makes a change; PostgreSQL delivers the notice at commit to every
listening session, in every process, so a waiter wakes as soon as the change is visible. Notices are not durable
(a lost connection loses them), so a waiter always has a slow poll besides, and every waiter wakes once when the
connection comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.logging import get_logger
from opsdesk.db.locks import plain_dsn

_log = get_logger(__name__)
_EXTRAS_KEY = "db.notifications"
_CONNECT_TIMEOUT_S = 5.0


async def notify(session: AsyncSession, channel: str, payload: str) -> None:
    """Sends ``payload`` on ``channel`` when the session's transaction commits (never, if it rolls back)."""
    await session.execute(select(func.pg_notify(channel, payload)))


class Watch:
    """One waiter's view of the notices for one (channel, payload)."""

    def __init__(self) -> None:
        self._heard = asyncio.Event()

    def wake(self) -> None:
        self._heard.set()

    async def wait(self, timeout_s: float) -> bool:
        """Until a notice arrives (or arrived since the last wait) or ``timeout_s`` passes; True when one did."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._heard.wait()
        except TimeoutError:
            return False
        finally:
            self._heard.clear()  # what commits from here on wakes the next wait
        return True


class Notifications:
    """The LISTEN connection of one process; connects on first use and again after it is lost."""

    def __init__(self, database_url: str) -> None:
        self._dsn = plain_dsn(database_url)
        self._conn: Any = None
        self._wanted: set[str] = set()  # the channels asked for
        self._listened: set[str] = set()  # those LISTENed on the current connection
        self._watches: dict[tuple[str, str], set[Watch]] = {}
        self._io = asyncio.Lock()

    @property
    def listening(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    @contextlib.asynccontextmanager
    async def watch(self, channel: str, payload: str) -> AsyncIterator[Watch]:
        """A ``Watch`` woken by each notice of ``payload`` on ``channel``; LISTENing before it is handed out (when
        the database can be reached), so a change committed after this returns is heard."""
        watch = Watch()
        self._watches.setdefault((channel, payload), set()).add(watch)
        try:
            await self.listen(channel)
            yield watch
        finally:
            watchers = self._watches.get((channel, payload))
            if watchers is not None:
                watchers.discard(watch)
                if not watchers:
                    del self._watches[(channel, payload)]

    async def listen(self, channel: str) -> bool:
        """LISTENs on ``channel`` (connecting first if needed); False when the database cannot be reached now."""
        async with self._io:
            self._wanted.add(channel)
            try:
                reconnected = not self.listening
                if reconnected:
                    await self._connect()
                for missing in self._wanted - self._listened:
                    await self._conn.add_listener(missing, self._heard)
                    self._listened.add(missing)
                if reconnected:  # notices sent while no connection listened are lost: every waiter reads again
                    self._wake_all()
            except Exception as exc:  # the waiters' polls carry on; the next call tries again
                _log.warning("notifications_unavailable", error=f"{type(exc).__name__}: {exc}")
                await self._drop()
                return False
        return True

    async def _connect(self) -> None:
        import asyncpg

        self._listened = set()
        self._conn = await asyncpg.connect(self._dsn, timeout=_CONNECT_TIMEOUT_S)
        self._conn.add_termination_listener(self._lost)

    def _heard(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        for watch in self._watches.get((channel, payload), ()):
            watch.wake()

    def _lost(self, _conn: Any) -> None:
        _log.warning("notifications_lost")
        self._wake_all()

    def _wake_all(self) -> None:
        for watches in self._watches.values():
            for watch in watches:
                watch.wake()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.remove_termination_listener(self._lost)  # closed on purpose: nothing to wake for
            try:
                await conn.close(timeout=1)
            except Exception:  # already broken
                conn.terminate()

    async def aclose(self) -> None:
        async with self._io:
            await self._drop()


def notifications(extras: dict[str, Any], database_url: str) -> Notifications:
    """The process's notifications, kept in the app context's extras (closed with it)."""
    found = extras.get(_EXTRAS_KEY)
    if not isinstance(found, Notifications):
        found = extras[_EXTRAS_KEY] = Notifications(database_url)
    return found
