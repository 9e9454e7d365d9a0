"""Which errors mean "the database cannot be reached" (503, retry) and which are ordinary failures (500)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import exc as sa_exc

from opsdesk.core.errors import is_database_unreachable
from opsdesk.core.http import install_error_handlers


def _raised(error: BaseException) -> BaseException:
    try:
        raise error
    except BaseException as caught:
        return caught


def test_a_refused_connection_raised_by_the_driver_is_unreachable() -> None:
    import asyncpg

    async def connect() -> None:
        await asyncpg.connect(host="127.0.0.1", port=1, timeout=5)

    with pytest.raises(OSError) as raised:
        asyncio.run(connect())
    assert is_database_unreachable(raised.value)


def test_an_os_error_from_application_code_is_not_the_database() -> None:
    assert not is_database_unreachable(_raised(FileNotFoundError(2, "No such file", "report.xlsx")))
    assert not is_database_unreachable(_raised(ConnectionRefusedError(111, "refused")))


def test_disconnects_server_shutdown_and_pool_timeouts_are_unreachable() -> None:
    class _Orig(Exception):
        sqlstate = "57P01"  # admin shutdown

    invalidated = sa_exc.OperationalError("SELECT 1", {}, Exception("closed"), connection_invalidated=True)
    assert is_database_unreachable(invalidated)
    assert is_database_unreachable(sa_exc.OperationalError("SELECT 1", {}, _Orig("terminating connection")))
    assert is_database_unreachable(sa_exc.TimeoutError("QueuePool limit reached"))


def test_a_query_the_server_refused_is_not_unreachable() -> None:
    class _Unique(Exception):
        sqlstate = "23505"

    assert not is_database_unreachable(sa_exc.IntegrityError("INSERT", {}, _Unique("duplicate key")))


async def test_the_error_handler_answers_503_with_retry_after_only_for_unreachable() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/down")
    async def down() -> None:
        raise sa_exc.OperationalError("SELECT 1", {}, Exception("closed"), connection_invalidated=True)

    @app.get("/broken")
    async def broken() -> None:
        raise sa_exc.ProgrammingError("SELEC 1", {}, Exception("syntax error"))

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        down_response = await client.get("/down")
        broken_response = await client.get("/broken")
    assert down_response.status_code == 503 and down_response.headers["retry-after"] == "2"
    assert down_response.json()["error"]["code"] == "database_unavailable"
    assert broken_response.status_code == 500 and "retry-after" not in broken_response.headers
