"""The event bus's upkeep: relayed events and processed-event records are deleted after a while."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from opsdesk.events import service
from opsdesk.jobs.registry import JobRun, task

# Long enough to replay a day's events to a new consumer by hand, and to drop duplicates RabbitMQ could still hold.
KEEP_RELAYED = timedelta(days=7)


@task("events.prune", cron="50 3 * * *", max_attempts=2)
async def prune(ctx: Any, job: JobRun) -> dict[str, int]:
    """Deletes events relayed, and consumption records processed, more than a week ago (dead ones stay)."""
    return await service.prune(ctx.db, older_than=KEEP_RELAYED)
