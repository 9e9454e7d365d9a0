"""The bus on the machine's real RabbitMQ: the relay publishes in order with ids and persistence; an outage loses
nothing and what comes twice is handled once; a consumer that keeps failing sends its message to the dead-letter
queue. Each test has an exchange (and queues) of its own."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.app.context import AppContext
from opsdesk.events import registry
from opsdesk.events.amqp import (
    AmqpConsumer,
    AmqpPublisher,
    dead_letter_queue_name,
    declare_exchange,
    move_dead_letters,
    redact,
)
from opsdesk.events.models import EventConsumption, OutboxEvent
from opsdesk.events.registry import Subscription
from opsdesk.events.relay import AmqpTransport, EventRelay
from opsdesk.events.schemas import Event
from opsdesk.events.service import consumption, publish, retry_dead
from opsdesk.events.worker import EventBus, relay_pending
from tests.conftest import make_settings
from tests.events.conftest import remember_queue
from tests.support.rabbitmq import TcpProxy

DEADLINE_S = 60.0  # a bound for waiting on a broker, never an assertion about speed


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    try:
        async with asyncio.timeout(DEADLINE_S):
            while True:
                if await check():
                    return
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"still waiting for {what}") from None


class Probe:
    """A server-named, exclusive queue bound to the whole exchange: what the relay really published."""

    def __init__(self, connection: aio_pika.abc.AbstractConnection, queue: AbstractQueue) -> None:
        self.connection = connection
        self.queue = queue

    @classmethod
    @asynccontextmanager
    async def open(cls, amqp_url: str, exchange: str) -> AsyncIterator[Probe]:
        connection = await aio_pika.connect(amqp_url, timeout=5)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(exclusive=True, auto_delete=True)
            await queue.bind(await declare_exchange(channel, exchange), routing_key="#")
            yield cls(connection, queue)

    async def take(self, count: int) -> list[AbstractIncomingMessage]:
        taken: list[AbstractIncomingMessage] = []

        async def enough() -> bool:
            message = await self.queue.get(no_ack=True, fail=False)
            if message is not None:
                taken.append(message)
            return len(taken) >= count

        await eventually(enough, f"{count} messages")
        return taken


@dataclass
class Recorder:
    """A handler that records what it handled (and fails for the names in `failing`)."""

    handled: list[tuple[str, str]] = field(default_factory=list)  # (key, name)
    failing: set[str] = field(default_factory=set)

    async def __call__(self, session: AsyncSession, event: Event) -> None:
        name = str(event.payload["name"])
        if name in self.failing:
            raise RuntimeError(f"cannot handle {name}")
        self.handled.append((event.key or "", name))

    def names(self) -> list[str]:
        return [name for _, name in self.handled]


def _subscribe(exchange: str, patterns: list[str], handler: Recorder, queue: str, **options: int) -> Subscription:
    remember_queue(exchange, queue)
    return registry.subscribe(patterns, handler, queue=queue, **options)


async def _publish(ctx: AppContext, names: list[str], *, event_type: str = "agent.task.completed") -> list[uuid.UUID]:
    async with ctx.db.session() as session:
        return [await publish(session, event_type, {"name": n}, key=f"run:{n.split('-')[0]}") for n in names]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def _running(bus: EventBus) -> AsyncIterator[EventBus]:
    bus.start()
    try:
        yield bus
    finally:
        await bus.stop()


async def test_the_relay_publishes_each_event_to_rabbitmq_in_order_with_its_id(
    bus_ctx: AppContext, amqp_url: str, exchange: str
) -> None:
    async with Probe.open(amqp_url, exchange) as probe:
        async with bus_ctx.db.session() as session:
            ids = [
                await publish(session, "order.confirmed" if n % 3 else "invoice.posted", {"n": n}, key=f"order:{n % 4}")
                for n in range(20)
            ]

        await relay_pending(bus_ctx)
        messages = await probe.take(20)

    assert [m.message_id for m in messages] == [str(i) for i in ids]
    events = [Event.from_json(m.body) for m in messages]
    assert [e.payload["n"] for e in events] == list(range(20))
    assert all(m.routing_key == m.type == e.type for m, e in zip(messages, events, strict=True))
    assert all(m.delivery_mode == aio_pika.DeliveryMode.PERSISTENT for m in messages)
    assert all(
        m.content_type == "application/json" and m.headers["x-opsdesk-key"] == e.key
        for m, e in zip(messages, events, strict=True)
    )
    async with bus_ctx.db.session() as session:
        unsent = await session.scalar(select(func.count()).where(OutboxEvent.published_at.is_(None)))
    assert unsent == 0


async def test_events_written_while_rabbitmq_is_unreachable_arrive_once_it_is_back_and_duplicates_are_dropped(
    bus_ctx: AppContext, amqp_url: str, exchange: str
) -> None:
    recorder = Recorder()
    subscription = _subscribe(exchange, ["agent.task.*"], recorder, "test.tasks")
    ids = await _publish(bus_ctx, [f"a-{n}" for n in range(5)] + [f"b-{n}" for n in range(5)])
    unreachable = amqp_url.replace(":5672", f":{_closed_port()}")
    down = EventRelay(bus_ctx, transport=AmqpTransport(AmqpPublisher(unreachable, exchange, subscribed=[subscription])))

    claimed = await down.relay_batch()

    # The first hand-over failed, so the relay kept all ten and paused.
    assert claimed == 10 and down.outages == 1 and down.last_error
    async with bus_ctx.db.session() as session:
        rows = list(await session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq)))
    assert all(row.published_at is None for row in rows)
    assert rows[0].attempts == 1 and rows[0].last_error

    async with Probe.open(amqp_url, exchange) as probe:
        bus = EventBus(bus_ctx, subscribed=[subscription], retry_base_s=0.01)
        async with _running(bus):
            await eventually(lambda: _count(recorder, 10), "the events after the outage")
            # The relay crashed between RabbitMQ's confirm and its commit: the events go out a second time.
            async with bus_ctx.db.session() as session:
                await session.execute(update(OutboxEvent).where(OutboxEvent.id.in_(ids[:4])).values(published_at=None))
            published = await probe.take(14)
            await eventually(lambda: _all_processed(bus_ctx, "test.tasks", 10), "the duplicates consumed")

    assert sorted(m.message_id or "" for m in published) == sorted([str(i) for i in ids] + [str(i) for i in ids[:4]])
    assert sorted(recorder.names()) == sorted(f"{k}-{n}" for k in "ab" for n in range(5))  # each once
    for key in ("run:a", "run:b"):  # in order per key
        names = [name for k, name in recorder.handled if k == key]
        assert names == sorted(names)


async def test_a_connection_cut_mid_stream_loses_nothing_and_delivers_in_order_per_key(
    database_url: str, tmp_path: Path, amqp_url: str, exchange: str, proxy: TcpProxy
) -> None:
    settings = make_settings(database_url, tmp_path, amqp_url=proxy.url(amqp_url), amqp_exchange=exchange)
    ctx = await AppContext.open(settings, migrate=False)
    recorder = Recorder()
    subscription = _subscribe(exchange, ["agent.#"], recorder, "test.cut")
    relay = EventRelay(ctx, poll_s=0.05, retry_base_s=0.05, outage_cap_s=0.5)
    bus = EventBus(ctx, subscribed=[subscription], relay=relay, retry_base_s=0.05)
    try:
        async with _running(bus):
            await _publish(ctx, [f"{k}-{n:02}" for n in range(10) for k in "xy"])
            await eventually(lambda: _count(recorder, 20), "the events before the cut")

            await proxy.cut()
            await _publish(ctx, [f"{k}-{n:02}" for n in range(10, 20) for k in "xy"])
            await eventually(lambda: _relay_failed(relay), "the relay noticing the outage")
            handled_during_outage = len(recorder.handled)
            await proxy.restore()

            await eventually(lambda: _count(recorder, 40), "the events after the cut")
    finally:
        await ctx.close()

    assert handled_during_outage == 20
    assert sorted(recorder.names()) == sorted(f"{k}-{n:02}" for n in range(20) for k in "xy")
    for key in ("run:x", "run:y"):
        names = [name for k, name in recorder.handled if k == key]
        assert names == sorted(names)


async def test_a_consumer_that_keeps_failing_sends_its_message_to_the_dead_letter_queue(
    bus_ctx: AppContext, amqp_url: str, exchange: str
) -> None:
    recorder = Recorder(failing={"poison-1"})
    subscription = _subscribe(exchange, ["approval.requested"], recorder, "test.approvals", max_attempts=3)
    poison, healthy = await _publish(bus_ctx, ["poison-1", "fine-1"], event_type="approval.requested")

    async with _running(EventBus(bus_ctx, subscribed=[subscription], retry_base_s=0.01)):
        await eventually(lambda: _count(recorder, 1), "the healthy event")
        dead_queue = dead_letter_queue_name(exchange, "test.approvals")
        dead = await _take_one(amqp_url, dead_queue)

    assert dead.message_id == str(poison) and Event.from_json(dead.body).payload == {"name": "poison-1"}
    record = await consumption(bus_ctx.db, "test.approvals", poison)
    assert record is not None and record.status == "dead" and record.attempts == 3
    assert record.last_error == "RuntimeError: cannot handle poison-1"
    assert recorder.names() == ["fine-1"]
    done = await consumption(bus_ctx.db, "test.approvals", healthy)
    assert done is not None and done.status == "processed"


async def test_a_message_that_is_not_an_event_goes_to_the_dead_letter_queue_unhandled(
    bus_ctx: AppContext, amqp_url: str, exchange: str
) -> None:
    recorder = Recorder()
    subscription = _subscribe(exchange, ["call.ended"], recorder, "test.garbage")
    bus = EventBus(bus_ctx, subscribed=[subscription], retry_base_s=0.01)
    async with _running(bus):
        await eventually(lambda: _ready(bus), "the consumer")
        connection = await aio_pika.connect(amqp_url, timeout=5)
        async with connection:
            channel = await connection.channel()
            target = await declare_exchange(channel, exchange)
            await target.publish(aio_pika.Message(b"{not json", message_id="garbage"), routing_key="call.ended")
        dead = await _take_one(amqp_url, dead_letter_queue_name(exchange, "test.garbage"))

    assert dead.message_id == "garbage" and recorder.handled == []


async def _take_one(amqp_url: str, queue_name: str) -> AbstractIncomingMessage:
    connection = await aio_pika.connect(amqp_url, timeout=5)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, passive=True)
        found: list[AbstractIncomingMessage] = []

        async def arrived() -> bool:
            message = await queue.get(no_ack=True, fail=False)
            if message is not None:
                found.append(message)
            return bool(found)

        await eventually(arrived, f"a message in {queue_name}")
        return found[0]


async def _count(recorder: Recorder, expected: int) -> bool:
    return len(recorder.handled) >= expected


async def _ready(bus: EventBus) -> bool:
    return all(consumer.ready.is_set() for consumer in bus.consumers)


async def _relay_failed(relay: EventRelay) -> bool:
    return relay.outages > 0


async def _all_processed(ctx: AppContext, queue: str, expected: int) -> bool:
    async with ctx.db.session() as session:
        count = await session.scalar(
            select(func.count()).where(EventConsumption.queue == queue, EventConsumption.status == "processed")
        )
    return count == expected


async def test_a_refused_login_is_recorded_without_the_password(
    bus_ctx: AppContext, amqp_url: str, exchange: str
) -> None:
    parts = urlsplit(amqp_url)
    wrong = parts._replace(netloc=f"guest:s3cret-never-logged@{parts.hostname}:{parts.port or 5672}").geturl()
    relay = EventRelay(bus_ctx, transport=AmqpTransport(AmqpPublisher(wrong, exchange)))
    await _publish(bus_ctx, ["a-1"])

    await relay.relay_batch()

    async with bus_ctx.db.session() as session:
        row = await session.scalar(select(OutboxEvent))
    assert row is not None and row.published_at is None and row.last_error and relay.last_error
    assert "s3cret" not in row.last_error and "s3cret" not in relay.last_error


def test_errors_that_quote_the_url_lose_its_password() -> None:
    url = "amqp://opsdesk:pa55word@rabbit:5672/prod"
    assert redact(f"cannot connect to {url}", url) == "cannot connect to amqp://opsdesk:***@rabbit:5672/prod"
    assert redact("refused", "amqp://rabbit:5672/") == "refused"


async def test_dead_letters_moved_back_after_a_fix_are_handled_once(
    bus_ctx: AppContext, amqp_url: str, exchange: str
) -> None:
    recorder = Recorder(failing={"poison-1"})
    subscription = _subscribe(exchange, ["approval.requested"], recorder, "test.revive", max_attempts=2)
    bus = EventBus(bus_ctx, subscribed=[subscription], retry_base_s=0.01)
    (poison,) = await _publish(bus_ctx, ["poison-1"], event_type="approval.requested")
    async with _running(bus):
        await eventually(lambda: _status(bus_ctx, "test.revive", poison, "dead"), "the event dead")
        recorder.failing.clear()  # the handler is fixed

        revived = await retry_dead(bus_ctx.db, "test.revive", relay_again=False)
        moved = await move_dead_letters(amqp_url, exchange, "test.revive")
        await eventually(lambda: _status(bus_ctx, "test.revive", poison, "processed"), "the event handled")

    assert revived == [poison] and moved == 1
    assert recorder.names() == ["poison-1"]


async def _status(ctx: AppContext, queue: str, event_id: uuid.UUID, status: str) -> bool:
    record = await consumption(ctx.db, queue, event_id)
    return record is not None and record.status == status


async def test_two_workers_consuming_one_queue_take_turns_so_its_order_holds(
    bus_ctx: AppContext, amqp_url: str, exchange: str
) -> None:
    first, second = Recorder(), Recorder()
    remember_queue(exchange, "test.turns")
    subscriptions = [Subscription("test.turns", ("agent.#",), handler) for handler in (first, second)]
    consumers = [AmqpConsumer(bus_ctx.db, amqp_url, exchange, s, retry_base_s=0.01) for s in subscriptions]
    running = [asyncio.create_task(consumer.run()) for consumer in consumers]
    try:
        async with asyncio.timeout(DEADLINE_S):
            await asyncio.gather(*(consumer.ready.wait() for consumer in consumers))
        await _publish(bus_ctx, [f"k-{n:02}" for n in range(20)])
        await relay_pending(bus_ctx)
        await eventually(lambda: _handled_by_either(first, second, 20), "every event handled")
    finally:
        for consumer in consumers:
            consumer.request_stop()
        await asyncio.gather(*running)

    handled = first.names() or second.names()
    assert not (first.names() and second.names())  # one consumer active at a time
    assert handled == [f"k-{n:02}" for n in range(20)]


async def _handled_by_either(first: Recorder, second: Recorder, expected: int) -> bool:
    return len(first.handled) + len(second.handled) >= expected
