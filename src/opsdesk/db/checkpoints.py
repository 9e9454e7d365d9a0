"""LangGraph's PostgreSQL checkpointer on the app's database, as every durable flow opens it (the order flow, the
crew's flow, the banking dialogue): a psycopg pool of its own and the checkpoint tables set up once.

The tables are shared by all flows, so their setup is serialised between processes by one advisory lock. It is
tried, not waited on: setup creates indexes CONCURRENTLY, which waits for every open transaction, and a second
process blocked in `pg_advisory_lock` is one (a deadlock when two processes start together).
"""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import make_url

SETUP_LOCK = 7_310_077  # any constant, the same for every flow
_SETUP_TRIES = 1200  # tries 50 ms apart: a minute; setup itself takes well under a second


def psycopg_url(async_url: str) -> str:
    """The app's SQLAlchemy URL (asyncpg) as psycopg wants it."""
    return make_url(async_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def open_checkpointer(
    async_url: str, *, max_size: int, name: str
) -> tuple[AsyncConnectionPool[Any], AsyncPostgresSaver]:
    """A pool on the database and a saver over it, the checkpoint tables set up. `name` says whose, in errors.

    min_size 0 and max_idle: idle connections are given back, so a quiet process holds none. timeout: with the
    database gone, a step fails within 10 s (a 503) instead of waiting psycopg's default 30 s.
    """
    kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        psycopg_url(async_url), min_size=0, max_size=max_size, max_idle=60, kwargs=kwargs, open=False, timeout=10
    )
    await pool.open(wait=True, timeout=30)
    try:
        async with pool.connection() as conn:
            await _take_setup_lock(conn, name)
            try:
                await AsyncPostgresSaver(conn).setup()  # type: ignore[arg-type]
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK,))
    except BaseException:
        await pool.close()
        raise
    return pool, AsyncPostgresSaver(pool)  # type: ignore[arg-type]


async def _take_setup_lock(conn: Any, name: str) -> None:
    for _ in range(_SETUP_TRIES):
        row = await (await conn.execute("SELECT pg_try_advisory_lock(%s) AS taken", (SETUP_LOCK,))).fetchone()
        if row is not None and row["taken"]:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"another process has been setting up the {name}'s checkpoint tables for a minute")
