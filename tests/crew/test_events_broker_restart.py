"""The machine's RabbitMQ itself is stopped in the middle of a crew run (`rabbitmqctl stop_app`) and started again
(`start_app`): the run completes meanwhile, its events wait in the outbox, and once the broker is back every one of
them arrives — those it held before the stop from a durable queue that survived the restart, the rest from the
relay — none twice after de-duplication by event id, in the order they were published.

test_events_outage.py cuts a TCP proxy in front of the broker; this one restarts the broker, so what RabbitMQ keeps
across a restart (durable exchange and queue, persistent messages) is part of what is checked."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import aio_pika
import pytest

from opsdesk.app.context import AppContext
from opsdesk.core.settings import Settings
from opsdesk.crew.flow.runtime import CrewFlow
from opsdesk.events.amqp import declare_exchange
from opsdesk.events.relay import EventRelay
from tests.conftest import make_settings
from tests.crew.conftest import CrewWorkspace
from tests.crew.test_events_outage import (
    approve_to_the_end,
    eventually,
    none_unsent,
    outage_seen,
    published_events,
    unsent,
)
from tests.crew.test_flow import SAMPLES, new_run
from tests.support.rabbitmq import amqp_url_or_skip

CTL_TIMEOUT_S = 120.0  # a bound for rabbitmqctl, never an assertion about speed


@pytest.fixture
def amqp_url() -> str:
    url = amqp_url_or_skip()
    if urlsplit(url).hostname not in {"127.0.0.1", "localhost"} or shutil.which("rabbitmqctl") is None:
        pytest.skip("needs the machine's own RabbitMQ and rabbitmqctl to stop and start it")
    return url


@pytest.fixture
async def exchange(amqp_url: str) -> AsyncIterator[str]:
    name = f"opsdesk.test.crew-restart.{uuid.uuid4().hex[:10]}"
    yield name
    with contextlib.suppress(Exception):
        connection = await aio_pika.connect(amqp_url, timeout=5)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(name)  # the test's durable queue has the exchange's name
            await channel.exchange_delete(name)


@pytest.fixture
def settings(database_url: str, tmp_path: Path, amqp_url: str, exchange: str) -> Settings:
    return make_settings(database_url, tmp_path, amqp_url=amqp_url, amqp_exchange=exchange)


async def _rabbitmqctl(command: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl", command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        async with asyncio.timeout(CTL_TIMEOUT_S):
            output, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"rabbitmqctl {command} did not finish in {CTL_TIMEOUT_S:.0f} s") from None
    assert process.returncode == 0, f"rabbitmqctl {command}: {output.decode(errors='replace')}"


async def _broker_answers(amqp_url: str) -> bool:
    try:
        connection = await aio_pika.connect(amqp_url, timeout=2)
    except Exception:
        return False
    await connection.close()
    return True


@pytest.mark.slow
async def test_rabbitmq_restarted_mid_run_delivers_every_event_once_in_order_after_it_is_back(
    ctx: AppContext, crew_workspace: CrewWorkspace, crew_flow: CrewFlow, amqp_url: str, exchange: str
) -> None:
    # A durable queue of the test's own, bound before the run; nothing consumes it until the broker is back.
    async with await aio_pika.connect(amqp_url, timeout=5) as setup:
        channel = await setup.channel()
        queue = await channel.declare_queue(exchange, durable=True)
        await queue.bind(await declare_exchange(channel, exchange), routing_key="#")

    relay = EventRelay(ctx, poll_s=0.05, retry_base_s=0.05, outage_cap_s=0.5)
    relaying = asyncio.create_task(relay.run())
    stopped = False
    try:
        run = await new_run(ctx, crew_workspace.workspace_id, (SAMPLES / "support_tickets.md").read_text())
        await crew_flow.start(run)
        await eventually(lambda: none_unsent(ctx, run.id), "the events before the stop handed to RabbitMQ")
        before = len(await published_events(ctx, run.id))

        stopped = True
        await _rabbitmqctl("stop_app")  # RabbitMQ is away for the rest of the run
        await approve_to_the_end(crew_flow, run.id)
        published = await published_events(ctx, run.id)
        await eventually(lambda: outage_seen(relay), "the relay noticing the broker is gone")
        assert await unsent(ctx, run.id) > 0  # kept in the outbox, not lost

        await _rabbitmqctl("start_app")
        stopped = False
        await eventually(lambda: _broker_answers(amqp_url), "RabbitMQ answering again")
        await eventually(lambda: none_unsent(ctx, run.id), "the outbox handing every event over")

        async with await aio_pika.connect(amqp_url, timeout=5) as listener:
            kept = await (await listener.channel()).get_queue(exchange, ensure=True)  # passive: it must have survived
            received: list[aio_pika.abc.AbstractIncomingMessage] = []
            # each event was confirmed (so queued) before the outbox marked it sent: the queue holds them all by now
            while (message := await kept.get(no_ack=True, fail=False)) is not None:
                received.append(message)
    finally:
        relay.request_stop()
        await relaying
        if stopped:
            await _rabbitmqctl("start_app")
            await eventually(lambda: _broker_answers(amqp_url), "RabbitMQ answering again")

    ids = [message.message_id for message in received]
    first_seen = list(dict.fromkeys(ids))  # de-duplicated by event id, at-least-once delivery allows repeats
    assert first_seen == [str(event.id) for event in published]  # every event, each once, in publishing order
    assert before > 0 and len(published) > before + 10  # some were held across the restart, most came after
