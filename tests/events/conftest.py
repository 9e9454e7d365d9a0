"""Event-bus fixtures: the machine's RabbitMQ (an exchange of its own per test), a context wired to it, a TCP proxy
that can cut RabbitMQ off mid-connection."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import aio_pika
import pytest

from opsdesk.app.context import AppContext
from opsdesk.events import registry
from tests.conftest import make_settings
from tests.support.rabbitmq import TcpProxy, amqp_url_or_skip


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


@pytest.fixture
async def proxy(amqp_url: str) -> AsyncIterator[TcpProxy]:
    parts = urlsplit(amqp_url)
    tcp = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672)
    await tcp.start()
    yield tcp
    await tcp.cut()
