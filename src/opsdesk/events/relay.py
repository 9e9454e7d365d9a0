"""The relay: claims unsent outbox events in order and hands them to RabbitMQ, or to this process's subscribers.

Any number of relays may share a database: one at a time hands events over (the others wait for their next poll),
in publishing order, and an event waits while an older event of its key waits for a retry, so each key stays in
order. An event is marked sent only after RabbitMQ confirmed it (or every in-process subscriber processed it or gave
up on it); a crash in between sends it again, and consumers drop the duplicate by its id. When RabbitMQ is away the
relay backs off and keeps the events.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Protocol

import asyncpg
from prometheus_client import Counter

from opsdesk.db.engine import Database
from opsdesk.db.locks import plain_dsn
from opsdesk.events import service
from opsdesk.events.amqp import AmqpPublisher, BrokerUnavailable
from opsdesk.events.registry import Subscription, subscriptions
from opsdesk.events.schemas import Event
from opsdesk.jobs.worker import PollingWorker, Runtime

RELAYED = Counter("opsdesk_events_relayed_total", "Events handed to RabbitMQ or in-process subscribers.", ["type"])
RELAY_FAILURES = Counter(
    "opsdesk_events_relay_failures_total",
    "Hand-overs that failed: the broker away (the relay pauses) or an in-process handler failing (the event waits).",
    ["reason"],
)


class DeliveryIncomplete(Exception):
    """Some in-process subscriber failed this event and will be given it again; later events of its key wait."""


class Transport(Protocol):
    """Where the relay hands events. Raising DeliveryIncomplete retries that event; anything else pauses the relay."""

    async def deliver(self, event: Event) -> None: ...

    async def aclose(self) -> None: ...


class AmqpTransport:
    def __init__(self, publisher: AmqpPublisher) -> None:
        self.publisher = publisher

    async def deliver(self, event: Event) -> None:
        await self.publisher.publish(event)

    async def aclose(self) -> None:
        await self.publisher.aclose()


class InProcessTransport:
    """Runs the matching subscriptions of this process with the same contract as RabbitMQ consumers: once per
    queue (de-duplicated by event id), failures retried, dead after `max_attempts`."""

    def __init__(self, db: Database, subscribed: Callable[[], list[Subscription]] = subscriptions) -> None:
        self.db = db
        self.subscribed = subscribed

    async def deliver(self, event: Event) -> None:
        failed = [
            subscription.queue
            for subscription in self.subscribed()
            if subscription.matches(event.type)
            and (await service.consume(self.db, subscription, event)).outcome == "failed"
        ]
        if failed:
            raise DeliveryIncomplete(f"failed in {', '.join(failed)}; retried later")

    async def aclose(self) -> None:
        return None


def transport_for(ctx: Runtime, subscribed: Sequence[Subscription] | None = None) -> Transport:
    """RabbitMQ when OPSDESK_AMQP_URL is set, else this process's subscribers (`subscribed`, default all)."""
    settings = ctx.settings
    if settings.amqp_url is not None:
        url = settings.amqp_url.get_secret_value()
        queues = subscriptions() if subscribed is None else subscribed
        return AmqpTransport(AmqpPublisher(url, settings.amqp_exchange, subscribed=queues))
    if subscribed is None:
        return InProcessTransport(ctx.db)
    fixed = list(subscribed)
    return InProcessTransport(ctx.db, lambda: fixed)


class EventRelay(PollingWorker[Runtime]):
    """Relays the outbox when a publish notifies it (LISTEN on its own connection) and every `poll_s` besides, which
    is all it does while that connection is down; at once again while batches come back full."""

    kind = "event"

    def __init__(
        self,
        ctx: Runtime,
        *,
        transport: Transport | None = None,
        batch: int = 100,
        poll_s: float = 0.5,
        retry_base_s: float = 0.5,
        retry_cap_s: float = 30.0,
        outage_cap_s: float = 2.0,
    ) -> None:
        super().__init__(ctx, poll_s=poll_s)
        self.transport: Transport = transport if transport is not None else transport_for(ctx)
        self.batch = max(1, batch)
        self.retry_base_s = retry_base_s
        self.retry_cap_s = retry_cap_s
        self.outage_cap_s = outage_cap_s
        self.outages = 0  # consecutive failed hand-overs; the pause before the next try grows with it
        self.last_error: str | None = None
        self._paused_until = 0.0
        self._notified = asyncio.Event()
        self._listener: Any = None  # an asyncpg connection LISTENing on service.NOTIFY_CHANNEL
        self.listening = asyncio.Event()  # set while that connection is up

    def describe(self) -> dict[str, Any]:
        return {"transport": type(self.transport).__name__, "batch": self.batch}

    async def has_work(self) -> bool:
        return await service.has_unsent(self.ctx.db)

    async def tick(self) -> None:
        await self._listen()
        self._notified.clear()  # what is committed from here on notifies again
        while not self._stopping.is_set() and time.monotonic() >= self._paused_until:
            if await self.relay_batch() < self.batch:
                return

    async def relay_batch(self) -> int:
        """Hands one claimed batch over; returns how many events were claimed."""
        async with self.ctx.db.session() as session:
            rows = await service.claim(session, limit=self.batch)
            waiting: set[str] = set()  # keys with a failed event in this batch: their later events wait
            for row in rows:
                if row.key is not None and row.key in waiting:
                    continue
                try:
                    await self.transport.deliver(service.to_event(row))
                except DeliveryIncomplete as exc:
                    RELAY_FAILURES.labels("handler").inc()
                    service.mark_failed(row, str(exc), retry_in=self._retry_in(row.attempts + 1))
                    if row.key is not None:
                        waiting.add(row.key)
                    continue
                except Exception as exc:  # the broker is away: keep everything and pause
                    RELAY_FAILURES.labels("broker").inc()
                    error = str(exc) if isinstance(exc, BrokerUnavailable) else f"{type(exc).__name__}: {exc}"
                    service.mark_failed(row, error, retry_in=timedelta(0))
                    self._pause(error)
                    break
                service.mark_published(row)
                RELAYED.labels(row.event_type).inc()
                self.outages, self.last_error = 0, None
        return len(rows)

    def _retry_in(self, attempt: int) -> timedelta:
        return timedelta(seconds=min(self.retry_cap_s, self.retry_base_s * 2.0 ** max(0, attempt - 1)))

    def _pause(self, error: str) -> None:
        self.outages += 1
        self.last_error = error
        pause = min(self.outage_cap_s, self.retry_base_s * 2.0 ** (self.outages - 1))
        self._paused_until = time.monotonic() + pause
        self._log.warning("event_relay_paused", error=error, outages=self.outages, retry_s=round(pause, 2))

    async def _listen(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        self.listening.clear()
        try:
            async with asyncio.timeout(5):
                listener = await asyncpg.connect(plain_dsn(self.ctx.db.url))
                await listener.add_listener(service.NOTIFY_CHANNEL, self._on_notify)
            self._listener = listener
            self.listening.set()
        except Exception as exc:  # polling still relays; the next tick tries again
            self._listener = None
            self._log.info("event_relay_listen_failed", error=f"{type(exc).__name__}: {exc}")

    def _on_notify(self, *_: Any) -> None:
        self._notified.set()

    async def _wait(self) -> None:
        """Until a publish notifies, the poll interval passes (or the pause, while RabbitMQ is away) or a stop."""
        waits = {asyncio.ensure_future(self._stopping.wait()), asyncio.ensure_future(self._notified.wait())}
        timeout = max(self.poll_s, self._paused_until - time.monotonic())
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def run(self, *, until_idle: bool = False) -> None:
        try:
            await super().run(until_idle=until_idle)
        finally:
            await self.transport.aclose()
            if self._listener is not None:
                with contextlib.suppress(Exception):
                    await self._listener.close(timeout=5)
                self._listener = None
                self.listening.clear()
