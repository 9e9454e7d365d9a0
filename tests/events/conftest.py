"""Event-bus fixtures: the machine's RabbitMQ (an exchange of its own per test), a context wired to it, a TCP proxy
that can cut RabbitMQ off mid-connection."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import aio_pika
import pytest

from opsdesk.app.context import AppContext
from opsdesk.events import registry
from tests.conftest import make_settings


def amqp_url_or_skip() -> str:
    """RabbitMQ for tests: OPSDESK_TEST_AMQP_URL or the local default; if unreachable, fails under CI, else skips."""
    url = os.environ.get("OPSDESK_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), timeout=1).close()
    except OSError as exc:
        _unavailable(f"RabbitMQ not reachable at {parts.hostname}:{parts.port}: {exc}")
    return url


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def amqp_url() -> str:
    return amqp_url_or_skip()


@pytest.fixture
async def exchange(amqp_url: str) -> AsyncIterator[str]:
    """A topic exchange name of this test's own; it and every queue named after it are deleted afterwards."""
    name = f"opsdesk.test.{uuid.uuid4().hex[:10]}"
    yield name
    connection = await aio_pika.connect(amqp_url, timeout=5)
    async with connection:
        channel = await connection.channel()
        for queue in _queues_of(name):
            with contextlib.suppress(Exception):
                await channel.queue_delete(queue)
            if channel.is_closed:
                channel = await connection.channel()
        with contextlib.suppress(Exception):
            await channel.exchange_delete(name)


_DECLARED: dict[str, set[str]] = {}


def remember_queue(exchange: str, queue: str) -> None:
    _DECLARED.setdefault(exchange, set()).add(queue)


def _queues_of(exchange: str) -> list[str]:
    named = {f"{exchange}.{q}" for q in _DECLARED.pop(exchange, set())}
    return sorted(named | {f"{q}.dead" for q in named})


@pytest.fixture(autouse=True)
def no_stray_subscriptions() -> Iterator[None]:
    """Subscriptions a test registers are its own."""
    before = {s.queue for s in registry.subscriptions()}
    yield
    for subscription in registry.subscriptions():
        if subscription.queue not in before:
            registry.unsubscribe(subscription.queue)


@pytest.fixture
async def bus_ctx(database_url: str, tmp_path: Path, amqp_url: str, exchange: str) -> AsyncIterator[AppContext]:
    """A context whose events go to the test's exchange on the real RabbitMQ."""
    settings = make_settings(database_url, tmp_path, amqp_url=amqp_url, amqp_exchange=exchange)
    context = await AppContext.open(settings, migrate=False)
    yield context
    await context.close()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to RabbitMQ; `cut()` drops every connection and refuses new ones until `restore()`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    def url(self, amqp_url: str) -> str:
        parts = urlsplit(amqp_url)
        credentials = parts.netloc.rsplit("@", 1)[0]
        return parts._replace(netloc=f"{credentials}@127.0.0.1:{self.port}").geturl()

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()

    async def restore(self) -> None:
        await self.start()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._pipes |= {writer, upstream_writer}
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            self._pipes.discard(writer)
            writer.transport.abort()


@pytest.fixture
async def proxy(amqp_url: str) -> AsyncIterator[TcpProxy]:
    parts = urlsplit(amqp_url)
    tcp = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672)
    await tcp.start()
    yield tcp
    await tcp.cut()
