"""RabbitMQ through aio-pika: the topology, the relay's publisher (confirmed, persistent) and a queue's consumer.

Topology: one durable topic exchange (`amqp_exchange`, default `opsdesk.events`), routing key = event type. A
subscription's queue is `<exchange>.<queue>`, durable, bound by its patterns; its dead letters go through the default
exchange to `<exchange>.<queue>.dead`, a durable queue nobody consumes (look, then replay after a fix).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
)

from opsdesk.core.logging import get_logger
from opsdesk.db.engine import Database
from opsdesk.events.registry import Subscription
from opsdesk.events.schemas import Event, InvalidEvent
from opsdesk.events.service import consume

_log = get_logger(__name__)
CONNECT_TIMEOUT_S = 5.0
TRACE_HEADERS = ("traceparent", "tracestate")  # the W3C trace context's fields
PUBLISH_TIMEOUT_S = 10.0


class BrokerUnavailable(ConnectionError):
    """RabbitMQ could not take the message (unreachable, refused, or no confirm in time); the message says why
    without the URL's password."""


def queue_name(exchange: str, queue: str) -> str:
    return f"{exchange}.{queue}"


def dead_letter_queue_name(exchange: str, queue: str) -> str:
    return f"{queue_name(exchange, queue)}.dead"


async def declare_exchange(channel: AbstractChannel, name: str) -> AbstractExchange:
    return await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)


async def declare_queue(
    channel: AbstractChannel, exchange: AbstractExchange, subscription: Subscription
) -> AbstractQueue:
    """The subscription's durable queue, bound by its patterns, with its dead-letter queue.

    Single active consumer: with several worker processes consuming one queue, RabbitMQ delivers to one of them at a
    time (the next takes over when it goes), so a queue is handled in order, as its key order promises.
    """
    name = queue_name(exchange.name, subscription.queue)
    dead = dead_letter_queue_name(exchange.name, subscription.queue)
    await channel.declare_queue(dead, durable=True)
    queue = await channel.declare_queue(
        name,
        durable=True,
        arguments={
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": dead,
            "x-single-active-consumer": True,
        },
    )
    for pattern in subscription.patterns:
        await queue.bind(exchange, routing_key=pattern)
    return queue


def redact(text: str, url: str) -> str:
    """`text` without the password of `url` (error messages may quote the URL)."""
    password = urlsplit(url).password
    return text.replace(password, "***") if password else text


def to_message(event: Event) -> aio_pika.Message:
    headers: dict[str, Any] = dict(event.trace_context)  # W3C `traceparent`/`tracestate`, as AMQP headers carry them
    if event.key is not None:
        headers["x-opsdesk-key"] = event.key
    if event.workspace_id is not None:
        headers["x-opsdesk-workspace"] = str(event.workspace_id)
    return aio_pika.Message(
        event.to_json(),
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=str(event.id),
        type=event.type,
        timestamp=event.occurred_at,
        app_id="opsdesk",
        headers=headers,
    )


def from_message(message: AbstractIncomingMessage) -> Event:
    """The event in a message `to_message` made, with the publisher's trace context from its headers."""
    event = Event.from_json(message.body)
    headers = message.headers or {}
    context: dict[str, str] = {}
    for name in TRACE_HEADERS:
        value = headers.get(name)
        if isinstance(value, bytes):
            value = value.decode(errors="replace")
        if isinstance(value, str):
            context[name] = value
    return replace(event, trace_context=context) if context else event


class AmqpPublisher:
    """Publishes to the topic exchange with publisher confirms: `publish` returns once RabbitMQ has the message.

    One connection, opened on first use; any failure drops it, and the next publish connects again. Each connection
    first declares the queues of `subscribed`, so that no event is published before its consumers' queues exist
    (a topic exchange drops what no queue is bound for).
    """

    def __init__(
        self,
        url: str,
        exchange: str,
        *,
        subscribed: Sequence[Subscription] = (),
        timeout_s: float = PUBLISH_TIMEOUT_S,
    ) -> None:
        self.url = url
        self.exchange_name = exchange
        self.subscribed = tuple(subscribed)
        self.timeout_s = timeout_s
        self._connection: AbstractConnection | None = None
        self._exchange: AbstractExchange | None = None

    async def publish(self, event: Event) -> None:
        try:
            exchange = await self._open()
            await exchange.publish(to_message(event), routing_key=event.type, mandatory=False, timeout=self.timeout_s)
        except Exception as exc:
            await self.reset()
            raise BrokerUnavailable(redact(f"{type(exc).__name__}: {exc}", self.url)) from exc
        except BaseException:
            await self.reset()
            raise

    async def _open(self) -> AbstractExchange:
        if self._connection is not None and self._connection.is_closed:
            await self.reset()
        if self._exchange is None:
            self._connection = await aio_pika.connect(self.url, timeout=CONNECT_TIMEOUT_S)
            channel = await self._connection.channel(publisher_confirms=True)
            exchange = await declare_exchange(channel, self.exchange_name)
            for subscription in self.subscribed:
                await declare_queue(channel, exchange, subscription)
            self._exchange = exchange
        return self._exchange

    async def reset(self) -> None:
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    await connection.close()

    async def aclose(self) -> None:
        await self.reset()


async def move_dead_letters(url: str, exchange: str, queue: str, *, limit: int = 100_000) -> int:
    """Moves the messages of `queue`'s dead-letter queue, oldest first, to the end of the queue (each confirmed by
    RabbitMQ before it leaves the dead letters); returns how many moved."""
    connection = await aio_pika.connect(url, timeout=CONNECT_TIMEOUT_S)
    moved = 0
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        dead = await channel.declare_queue(dead_letter_queue_name(exchange, queue), durable=True)
        target = queue_name(exchange, queue)
        while moved < limit:
            message = await dead.get(no_ack=False, fail=False, timeout=PUBLISH_TIMEOUT_S)
            if message is None:
                break
            copy = aio_pika.Message(
                message.body,
                content_type=message.content_type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=message.message_id,
                type=message.type,
                timestamp=message.timestamp,
                app_id=message.app_id,
                headers={k: v for k, v in (message.headers or {}).items() if k != "x-death"},
            )
            await channel.default_exchange.publish(copy, routing_key=target, timeout=PUBLISH_TIMEOUT_S)
            await message.ack()
            moved += 1
    return moved


class AmqpConsumer:
    """Consumes one subscription's queue until stopped, connecting again (with backoff) whenever RabbitMQ goes away.

    Each message runs `service.consume`: processed or a duplicate is acked; a failure waits (backoff by attempt) and
    goes back to the head of the queue, so the queue keeps its order; a dead event is rejected into the dead-letter
    queue. With `prefetch` 1 (the default) one message is in hand at a time.
    """

    def __init__(
        self,
        db: Database,
        url: str,
        exchange: str,
        subscription: Subscription,
        *,
        prefetch: int = 1,
        retry_base_s: float = 0.5,
        retry_cap_s: float = 30.0,
        reconnect_cap_s: float = 2.0,
    ) -> None:
        self.db = db
        self.url = url
        self.exchange_name = exchange
        self.subscription = subscription
        self.prefetch = max(1, prefetch)
        self.retry_base_s = retry_base_s
        self.retry_cap_s = retry_cap_s
        self.reconnect_cap_s = reconnect_cap_s
        self.ready = asyncio.Event()  # set while consuming (tests wait for it before publishing)
        self._stopping = asyncio.Event()

    def _delay(self, attempt: int) -> float:
        return float(min(self.retry_cap_s, self.retry_base_s * 2.0 ** max(0, attempt - 1)))

    def _reconnect_delay(self, failures: int) -> float:
        return float(min(self.reconnect_cap_s, self.retry_base_s * 2.0 ** max(0, failures - 1)))

    async def run(self) -> None:
        reconnects = 0
        while not self._stopping.is_set():
            try:
                await self._consume_until_closed()
                reconnects = 0
            except Exception as exc:  # RabbitMQ is away or refused us: try again later
                reconnects += 1
                _log.warning(
                    "event_consumer_disconnected",
                    queue=self.subscription.queue,
                    error=redact(f"{type(exc).__name__}: {exc}", self.url),
                    retry_s=self._reconnect_delay(reconnects),
                )
            if not self._stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=self._reconnect_delay(reconnects))

    async def _consume_until_closed(self) -> None:
        connection = await aio_pika.connect(self.url, timeout=CONNECT_TIMEOUT_S)
        try:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=self.prefetch)
            exchange = await declare_exchange(channel, self.exchange_name)
            queue = await declare_queue(channel, exchange, self.subscription)
            await queue.consume(self._on_message)
            self.ready.set()
            _log.info("event_consumer_started", queue=self.subscription.queue, amqp_queue=queue.name)
            waits = [
                asyncio.ensure_future(self._stopping.wait()),
                asyncio.ensure_future(connection.closed()),
                asyncio.ensure_future(channel.closed()),
            ]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for wait in waits:
                    wait.cancel()
            if not self._stopping.is_set():
                raise ConnectionError("the connection to RabbitMQ closed")
        finally:
            self.ready.clear()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    await connection.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            await self._settle(message)
        except Exception as exc:  # the channel closed under us: RabbitMQ redelivers what was not acked
            _log.warning("event_consumer_settle_failed", queue=self.subscription.queue, error=f"{exc!r}")

    async def _settle(self, message: AbstractIncomingMessage) -> None:
        try:
            event = from_message(message)
        except InvalidEvent as exc:
            _log.error("event_unreadable", queue=self.subscription.queue, message_id=message.message_id, error=str(exc))
            await message.reject(requeue=False)
            return
        try:
            consumed = await consume(self.db, self.subscription, event)
        except Exception as exc:  # nothing was recorded (the database is away): deliver it again later
            _log.warning(
                "event_consume_unrecorded", queue=self.subscription.queue, error=f"{type(exc).__name__}: {exc}"
            )
            await asyncio.sleep(self._delay(1))
            await message.nack(requeue=True)
            return
        if consumed.outcome in ("processed", "duplicate"):
            await message.ack()
        elif consumed.outcome == "dead":
            await message.reject(requeue=False)
        else:
            await asyncio.sleep(self._delay(consumed.attempts))
            await message.nack(requeue=True)

    def request_stop(self) -> None:
        self._stopping.set()
