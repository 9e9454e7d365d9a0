"""`opsdesk events status|retry-dead`: the event bus from a terminal (whoever runs the installation)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.console import Console
from rich.table import Table

from opsdesk.core.commands import run_command
from opsdesk.core.settings import Settings, get_settings
from opsdesk.db.engine import Database

events_app = typer.Typer(help="Business events: the outbox, consumer queues and dead letters.", no_args_is_help=True)
console = Console()
T = TypeVar("T")


def _with_db(action: Callable[[Settings, Database], Awaitable[T]]) -> T:
    async def main() -> T:
        settings = get_settings()
        db = Database(settings)
        await db.connect()
        try:
            return await action(settings, db)
        finally:
            await db.close()
            db.stop_server()

    return run_command(main)


@events_app.command("status")
def status() -> None:
    """Events waiting to be relayed, and per consumer queue what was processed, is failing and is dead."""
    from opsdesk.events import service

    async def read(settings: Settings, db: Database) -> tuple[service.Backlog, list[service.QueueCounts]]:
        async with db.session() as session:
            return await service.backlog(session), await service.queue_counts(session)

    waiting, queues = _with_db(read)
    transport = "RabbitMQ" if get_settings().amqp_url is not None else "in-process subscribers"
    since = f", the oldest from {waiting.oldest:%Y-%m-%d %H:%M:%S} UTC" if waiting.oldest else ""
    console.print(f"{waiting.unsent} events waiting for {transport}{since}.")
    if not queues:
        console.print("No consumer has received an event yet.")
        return
    table = Table("queue", "processed", "failing", "dead")
    for counts in queues:
        table.add_row(counts.queue, str(counts.processed), str(counts.failed), str(counts.dead))
    console.print(table)


@events_app.command("retry-dead")
def retry_dead(queue: str = typer.Argument(..., help="A consumer queue (see `opsdesk events status`).")) -> None:
    """Give a queue's dead events to its handler again (after fixing it): in process they are relayed again; with
    RabbitMQ the dead-letter queue's messages move back to the queue."""
    from opsdesk.events import amqp, service

    async def retry(settings: Settings, db: Database) -> tuple[int, int]:
        in_process = settings.amqp_url is None
        ids = await service.retry_dead(db, queue, relay_again=in_process)
        if in_process:
            return len(ids), len(ids)
        assert settings.amqp_url is not None
        url = settings.amqp_url.get_secret_value()
        return len(ids), await amqp.move_dead_letters(url, settings.amqp_exchange, queue)

    revived, moved = _with_db(retry)
    console.print(f"{revived} dead events of {queue} will be handled again ({moved} delivered again).")
