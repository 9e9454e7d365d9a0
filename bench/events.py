"""Event delivery latency: the outbox and its relay beside publishing straight to RabbitMQ after the commit.

    .venv/bin/python bench/events.py [--events 150] [--rate 5] [--amqp-url amqp://guest:guest@127.0.0.1:5672/] [--json]

A throwaway embedded PostgreSQL with opsdesk's schema; a topic exchange of the run's own on the given RabbitMQ with a
queue bound to it. `--events` events are committed at `--rate` per second, each in its own transaction:

- `outbox relay` (opsdesk): `events.service.publish` in the transaction; the `EventBus` relay of this process (poll
  0.5 s) publishes with confirms. Survives RabbitMQ being away (the tests and `bench/chaos.py` show that).
- `direct publish` (the baseline): the commit, then an aio-pika publish with confirms from the same code path, as a
  service without an outbox would do; an event is lost if the process dies or RabbitMQ is away between the two.

Measured per path: events arrived, and commit-to-arrival latency (median, p95, max) at the bound queue. Both run in
this process, one after the other, at normal priority. Results go to bench/results/events.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aio_pika
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from bench._results import publish as keep_results
from opsdesk.app.context import AppContext
from opsdesk.core.settings import Settings
from opsdesk.db.embedded import EmbeddedPostgres
from opsdesk.db.engine import to_async_url
from opsdesk.db.migrate import upgrade_to_head
from opsdesk.events.amqp import AmqpPublisher
from opsdesk.events.schemas import Event
from opsdesk.events.service import publish
from opsdesk.events.worker import EventBus

console = Console(stderr=True)
Send = Callable[[AppContext], Awaitable[tuple[str, float]]]  # -> (event id, when its transaction committed)


async def _outbox(ctx: AppContext) -> tuple[str, float]:
    async with ctx.db.session() as session:
        event_id = await publish(session, "bench.tick", {"path": "outbox"})
    return str(event_id), time.monotonic()


def _direct(publisher: AmqpPublisher) -> Send:
    async def send(ctx: AppContext) -> tuple[str, float]:
        async with ctx.db.session():
            event_id = uuid.uuid4()  # the state change would be written here
        committed = time.monotonic()
        event = Event(event_id, "bench.tick", datetime.now(UTC), {"path": "direct"})
        await publisher.publish(event)
        return str(event_id), committed

    return send


async def _measure(ctx: AppContext, send: Send, queue: Any, events: int, rate: float) -> dict[str, Any]:
    committed: dict[str, float] = {}
    arrived: dict[str, float] = {}

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        arrived.setdefault(message.message_id or "", time.monotonic())
        await message.ack()

    tag = await queue.consume(on_message)
    try:
        for _ in range(events):
            event_id, at = await send(ctx)
            committed[event_id] = at
            await asyncio.sleep(1 / rate)
        for _ in range(300):  # up to 30 s for the last ones
            if set(committed) <= set(arrived):
                break
            await asyncio.sleep(0.1)
    finally:
        await queue.cancel(tag)
    delays = sorted(arrived[k] - at for k, at in committed.items() if k in arrived)
    if not delays:
        return {"events": events, "arrived": 0, "median_s": None, "p95_s": None, "max_s": None}
    return {
        "events": events,
        "arrived": len(delays),
        "median_s": round(statistics.median(delays), 3),
        "p95_s": round(delays[min(len(delays) - 1, int(len(delays) * 0.95))], 3),
        "max_s": round(delays[-1], 3),
    }


async def run(events: int, rate: float, amqp_url: str) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="opsdesk-events-bench-"))
    os.chmod(data_dir, 0o755)  # the embedded server runs as its own system user
    (data_dir / "db").mkdir()
    server = EmbeddedPostgres(data_dir / "db", cleanup_mode="delete")
    await asyncio.to_thread(server.start)
    exchange_name = f"opsdesk.bench.{uuid.uuid4().hex[:8]}"
    try:
        await asyncio.to_thread(upgrade_to_head, server.url("psycopg"))
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            env="test",
            data_dir=data_dir,
            database_url=SecretStr(to_async_url(server.url("asyncpg"))),
            secret_key=SecretStr("events-bench-secret-key-long-enough-for-hs256"),
            local_llm_enabled=False,
            log_level="WARNING",
            amqp_url=SecretStr(amqp_url),
            amqp_exchange=exchange_name,
        )
        ctx = await AppContext.open(settings, migrate=False)
        connection = await aio_pika.connect(amqp_url, timeout=5)
        try:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.TOPIC, durable=True)
            queue = await channel.declare_queue(exclusive=True)
            await queue.bind(exchange, routing_key="#")
            bus = EventBus(ctx, subscribed=[])
            bus.start()
            try:
                outbox = await _measure(ctx, _outbox, queue, events, rate)
            finally:
                await bus.stop()
            publisher = AmqpPublisher(amqp_url, exchange_name)
            try:
                direct = await _measure(ctx, _direct(publisher), queue, events, rate)
            finally:
                await publisher.aclose()
            await channel.exchange_delete(exchange_name)
        finally:
            await connection.close()
            await ctx.close()
    finally:
        await asyncio.to_thread(server.stop)
    load = os.getloadavg()
    return {"outbox_relay": outbox, "direct_publish": direct, "rate_per_s": rate, "load_average": round(load[0], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=150)
    parser.add_argument("--rate", type=float, default=5.0, help="events committed per second")
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(run(args.events, args.rate, args.amqp_url))
    table = Table(
        title=f"Commit to arrival at a RabbitMQ queue, {args.rate:g} events/s (load {results['load_average']})"
    )
    for column in ("path", "events", "arrived", "median s", "p95 s", "max s", "survives RabbitMQ away"):
        table.add_column(column, justify="left" if column in ("path", "survives RabbitMQ away") else "right")
    for key, label, survives in (
        ("outbox_relay", "outbox + relay (opsdesk)", "yes"),
        ("direct_publish", "publish after commit (baseline)", "no"),
    ):
        row = results[key]
        table.add_row(
            label,
            str(row["events"]),
            str(row["arrived"]),
            *(("-" if row[k] is None else f"{row[k]:.3f}") for k in ("median_s", "p95_s", "max_s")),
            survives,
        )
    console.print(table)
    keep_results("events", results, as_json=args.json)


if __name__ == "__main__":
    main()
