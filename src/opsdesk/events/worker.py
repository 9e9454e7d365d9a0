"""The event bus of a worker process: the outbox relay, and with RabbitMQ one consumer per subscribed queue.

`opsdesk worker` runs one, `opsdesk up` one inside the server. Without RabbitMQ the relay itself delivers to the
subscriptions registered in its process (modules import-registered like tasks), so consumers live where the relay runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from opsdesk.events.amqp import AmqpConsumer
from opsdesk.events.registry import Subscription, subscriptions
from opsdesk.events.relay import EventRelay, transport_for
from opsdesk.jobs.worker import Runtime

EXTRAS_KEY = "events.bus"


class EventBus:
    """The relay and the RabbitMQ consumers of one process, started and stopped together."""

    def __init__(
        self,
        ctx: Runtime,
        *,
        subscribed: Sequence[Subscription] | None = None,
        relay: EventRelay | None = None,
        **consumer_options: Any,
    ) -> None:
        queues = list(subscriptions() if subscribed is None else subscribed)
        self.relay = relay if relay is not None else EventRelay(ctx, transport=transport_for(ctx, queues))
        settings = ctx.settings
        self.consumers: list[AmqpConsumer] = []
        if settings.amqp_url is not None:
            url = settings.amqp_url.get_secret_value()
            self.consumers = [
                AmqpConsumer(ctx.db, url, settings.amqp_exchange, subscription, **consumer_options)
                for subscription in queues
            ]
        self._tasks: list[asyncio.Task[None]] = []

    async def run(self, *, until_idle: bool = False) -> None:
        """Relays (and consumes) until stopped; with `until_idle` until the outbox is empty (consumers stop then)."""
        consuming = [
            asyncio.create_task(c.run(), name=f"event-consumer-{c.subscription.queue}") for c in self.consumers
        ]
        try:
            await self.relay.run(until_idle=until_idle)
        finally:
            for consumer in self.consumers:
                consumer.request_stop()
            await asyncio.gather(*consuming, return_exceptions=True)

    def start(self) -> None:
        if not any(not task.done() for task in self._tasks):
            self._tasks = [asyncio.create_task(self.run(), name="event-bus")]

    def request_stop(self) -> None:
        self.relay.request_stop()
        for consumer in self.consumers:
            consumer.request_stop()

    async def stop(self) -> None:
        self.request_stop()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self) -> None:
        """Stops the bus, so that the context's close() stops one parked in its extras."""
        await self.stop()


def start_in_process(ctx: Runtime, **options: Any) -> EventBus:
    """Starts the event bus inside this process (what `opsdesk up` calls); one per process, stopped by ctx.close()."""
    bus = ctx.extras.get(EXTRAS_KEY)
    if not isinstance(bus, EventBus):
        bus = ctx.extras[EXTRAS_KEY] = EventBus(ctx, **options)
        bus.start()
    return bus


async def relay_pending(ctx: Runtime, **options: Any) -> None:
    """Relays every due event in this process and returns when none is left (tests)."""
    await EventRelay(ctx, poll_s=0.05, **options).run(until_idle=True)
