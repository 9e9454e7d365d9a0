"""Ingestion runs on the job layer as the task `knowledge.ingest`; these helpers run that task alone in this process.

`opsdesk worker` and `opsdesk up` run it with every other task (opsdesk.jobs.worker). Tests and benchmarks ingest
what they queued with `run_pending_jobs`, `opsdesk knowledge ingest` runs its own job with `run_here`, and the
console's test server starts a worker of ingestion only.
"""

from __future__ import annotations

from typing import Any

from opsdesk.app.context import AppContext
from opsdesk.jobs import registry
from opsdesk.jobs import service as job_layer
from opsdesk.jobs.worker import JobWorker, run_pending
from opsdesk.knowledge.ingest import tasks as _registers_the_task  # noqa: F401
from opsdesk.knowledge.ingest.jobs import TASK

EXTRAS_KEY = "knowledge.worker"


def ingestion_tasks() -> dict[str, registry.Task]:
    """The task `knowledge.ingest` alone, for a JobWorker's `tasks`."""
    return {TASK: registry.get(TASK)}


async def run_pending_jobs(ctx: AppContext) -> None:
    """Runs every due ingestion job in this process, through the job layer, and returns when none is due or running
    (tests, CLI, benchmarks)."""
    await run_pending(ctx, tasks=ingestion_tasks())


async def start_in_process(ctx: AppContext, **options: Any) -> JobWorker | None:
    """Starts a job worker of ingestion only in this process when `settings.worker_in_process` is set."""
    if not ctx.settings.worker_in_process:
        return None
    found = ctx.extras.get(EXTRAS_KEY)
    if isinstance(found, JobWorker):
        return found
    worker = ctx.extras[EXTRAS_KEY] = JobWorker(ctx, tasks=ingestion_tasks(), schedules=False, **options)
    worker.start()
    return worker


async def stop_in_process(ctx: AppContext) -> None:
    """Stops the worker `start_in_process` started, if any; its running jobs go back to the queue."""
    worker = ctx.extras.pop(EXTRAS_KEY, None)
    if isinstance(worker, JobWorker):
        await worker.stop()


async def run_here(ctx: AppContext, job_id: Any) -> bool:
    """Claims the ingestion job `job_id` through the job layer and runs it in this process (the CLI's `knowledge
    ingest`); False when a worker had claimed it already."""
    lease = await job_layer.claim(ctx.db, [TASK], job_id=job_id)
    if lease is None:
        return False
    await JobWorker(ctx, tasks=ingestion_tasks(), schedules=False).run_claimed(lease)
    return True
