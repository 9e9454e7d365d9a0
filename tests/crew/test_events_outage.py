"""RabbitMQ goes away in the middle of a crew run (every connection to it cut, new ones refused): the run goes on,
its events wait in the outbox, and once the broker is back every one of them arrives — none lost, and after
de-duplication by event id none twice, in the order they were published."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import aio_pika
import pytest
from sqlalchemy import func, select

from opsdesk.app.context import AppContext
from opsdesk.core.settings import Settings
from opsdesk.crew.flow.runtime import CrewFlow
from opsdesk.events.amqp import declare_exchange
from opsdesk.events.models import OutboxEvent
from opsdesk.events.relay import EventRelay
from tests.conftest import make_settings
from tests.crew.conftest import CrewWorkspace
from tests.crew.test_flow import APPROVE, SAMPLES, new_run
from tests.support.rabbitmq import TcpProxy, amqp_url_or_skip

DEADLINE_S = 60.0  # a bound for waiting on the broker, never an assertion about speed


@pytest.fixture
def amqp_url() -> str:
    return amqp_url_or_skip()


@pytest.fixture
async def exchange(amqp_url: str) -> AsyncIterator[str]:
    name = f"opsdesk.test.crew-outage.{uuid.uuid4().hex[:10]}"
    yield name
    connection = await aio_pika.connect(amqp_url, timeout=5)
    async with connection:
        with contextlib.suppress(Exception):
            await (await connection.channel()).exchange_delete(name)


@pytest.fixture
async def proxy(amqp_url: str) -> AsyncIterator[TcpProxy]:
    """The relay reaches RabbitMQ through this proxy, which the test cuts and restores."""
    parts = urlsplit(amqp_url)
    running = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672)
    await running.start()
    yield running
    await running.cut()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, amqp_url: str, exchange: str, proxy: TcpProxy) -> Settings:
    return make_settings(database_url, tmp_path, amqp_url=proxy.url(amqp_url), amqp_exchange=exchange)


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    try:
        async with asyncio.timeout(DEADLINE_S):
            while True:
                if await check():
                    return
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"still waiting for {what}") from None


async def approve_to_the_end(crew_flow: CrewFlow, run_id: uuid.UUID) -> None:
    """Approves every gate the run waits at; it must complete."""
    stop = await crew_flow.answer(run_id, APPROVE)
    while stop.status == "waiting":
        stop = await crew_flow.answer(run_id, APPROVE)
    assert stop.status == "completed", stop.detail


async def published_events(ctx: AppContext, run_id: uuid.UUID) -> list[OutboxEvent]:
    async with ctx.db.session() as session:
        query = select(OutboxEvent).where(OutboxEvent.key == f"crew-run:{run_id}").order_by(OutboxEvent.seq)
        return list(await session.scalars(query))


async def unsent(ctx: AppContext, run_id: uuid.UUID) -> int:
    async with ctx.db.session() as session:
        query = select(func.count()).where(OutboxEvent.key == f"crew-run:{run_id}", OutboxEvent.published_at.is_(None))
        return int(await session.scalar(query) or 0)


@pytest.mark.slow
async def test_a_broker_outage_mid_run_loses_no_event_and_delivers_each_once_after_it_is_back(
    ctx: AppContext, crew_workspace: CrewWorkspace, crew_flow: CrewFlow, amqp_url: str, exchange: str, proxy: TcpProxy
) -> None:
    relay = EventRelay(ctx, poll_s=0.05, retry_base_s=0.05, outage_cap_s=0.5)
    relaying = asyncio.create_task(relay.run())
    connection = await aio_pika.connect(amqp_url, timeout=5)  # the test listens on the broker itself
    try:
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(exclusive=True, auto_delete=True)
            await queue.bind(await declare_exchange(channel, exchange), routing_key="#")
            received: list[aio_pika.abc.AbstractIncomingMessage] = []

            async def taken(count: int) -> bool:
                message = await queue.get(no_ack=True, fail=False)
                if message is not None:
                    received.append(message)
                return len(received) >= count

            run = await new_run(ctx, crew_workspace.workspace_id, (SAMPLES / "support_tickets.md").read_text())
            await crew_flow.start(run)
            before = len(await published_events(ctx, run.id))
            await eventually(lambda: taken(before), "the events before the outage")

            await proxy.cut()  # RabbitMQ is away for the rest of the run
            await approve_to_the_end(crew_flow, run.id)
            published = await published_events(ctx, run.id)
            await eventually(lambda: outage_seen(relay), "the relay noticing the outage")
            assert await unsent(ctx, run.id) > 0  # kept in the outbox, not lost
            assert len(received) == before  # nothing got through meanwhile

            await proxy.restore()
            await eventually(lambda: taken(len(published)), "every event after the outage")
            await eventually(lambda: none_unsent(ctx, run.id), "the outbox marking them sent")
            # published with confirms before marked sent: a repeat of a retried hand-over is in the queue by now
            while (late := await queue.get(no_ack=True, fail=False)) is not None:
                received.append(late)
    finally:
        relay.request_stop()
        await relaying

    ids = [message.message_id for message in received]
    first_seen = list(dict.fromkeys(ids))  # de-duplicated by event id, at-least-once delivery allows repeats
    assert first_seen == [str(event.id) for event in published]  # every event, each once, in publishing order
    assert len(published) > before + 10


async def outage_seen(relay: EventRelay) -> bool:
    return relay.outages > 0 or relay.last_error is not None


async def none_unsent(ctx: AppContext, run_id: uuid.UUID) -> bool:
    return await unsent(ctx, run_id) == 0
