"""The job layer's own upkeep: finished jobs are deleted after a while."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from opsdesk.jobs import service
from opsdesk.jobs.registry import JobRun, task

KEEP_FINISHED = timedelta(days=14)  # long enough to look into a failure; a dedupe key is honoured this long


@task("jobs.purge_finished", cron="40 3 * * *", max_attempts=2)
async def purge_finished(ctx: Any, job: JobRun) -> dict[str, int]:
    """Deletes jobs that finished more than two weeks ago."""
    return {"deleted": await service.purge_finished(ctx.db, older_than=KEEP_FINISHED)}
