"""A run's events reach the machine's RabbitMQ through the outbox and the relay, in the order they happened."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import pytest
from sqlalchemy import select

from opsdesk.app.context import AppContext
from opsdesk.core.settings import Settings
from opsdesk.crew.flow.runtime import CrewFlow
from opsdesk.events.amqp import declare_exchange
from opsdesk.events.models import OutboxEvent
from opsdesk.events.schemas import Event
from opsdesk.events.worker import relay_pending
from tests.conftest import make_settings
from tests.crew.conftest import TOKEN, CrewWorkspace
from tests.crew.test_flow import APPROVE, SAMPLES, new_run
from tests.support.rabbitmq import amqp_url_or_skip


@pytest.fixture
def amqp_url() -> str:
    return amqp_url_or_skip()


@pytest.fixture
async def exchange(amqp_url: str) -> AsyncIterator[str]:
    name = f"opsdesk.test.crew.{uuid.uuid4().hex[:10]}"
    yield name
    connection = await aio_pika.connect(amqp_url, timeout=5)
    async with connection:
        with contextlib.suppress(Exception):
            await (await connection.channel()).exchange_delete(name)


@pytest.fixture
def settings(database_url: str, tmp_path: Path, amqp_url: str, exchange: str) -> Settings:
    """The shared ctx fixture's settings, with events going to this test's exchange on RabbitMQ."""
    return make_settings(database_url, tmp_path, amqp_url=amqp_url, amqp_exchange=exchange)


async def test_the_runs_events_arrive_on_rabbitmq_in_order(
    ctx: AppContext, crew_workspace: CrewWorkspace, crew_flow: CrewFlow, amqp_url: str, exchange: str
) -> None:
    connection = await aio_pika.connect(amqp_url, timeout=5)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for pattern in ("agent.#", "workflow.#", "approval.#"):
            await queue.bind(await declare_exchange(channel, exchange), routing_key=pattern)

        run = await new_run(ctx, crew_workspace.workspace_id, (SAMPLES / "support_tickets.md").read_text())
        stop = await crew_flow.start(run)
        while stop.status == "waiting":
            stop = await crew_flow.answer(run.id, APPROVE)
        assert stop.status == "completed", stop.detail
        await relay_pending(ctx)

        async with ctx.db.session() as session:
            published = list(
                await session.scalars(
                    select(OutboxEvent).where(OutboxEvent.key == f"crew-run:{run.id}").order_by(OutboxEvent.seq)
                )
            )
        received: list[aio_pika.abc.AbstractIncomingMessage] = []
        async with asyncio.timeout(30):
            while len(received) < len(published):
                message = await queue.get(no_ack=True, fail=False)
                if message is None:
                    await asyncio.sleep(0.05)
                else:
                    received.append(message)

    assert [m.message_id for m in received] == [str(event.id) for event in published]
    events = [Event.from_json(m.body) for m in received]
    types = [event.type for event in events]
    assert types[0] == "agent.task.assigned" and types.count("approval.requested") == 5
    assert types[-1] == "workflow.step.completed" and events[-1].payload["step"] == "finish"
    assert all(m.routing_key == m.type == e.type for m, e in zip(received, events, strict=True))
    assert TOKEN not in json.dumps([e.payload for e in events])
