"""The task `knowledge.ingest`: runs one ingestion job that the job layer claimed (the payload names its row)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from opsdesk.app.context import AppContext
from opsdesk.core import telemetry
from opsdesk.core.errors import OpsdeskError
from opsdesk.core.logging import get_logger
from opsdesk.jobs.registry import JobFailed, JobRun, task
from opsdesk.knowledge.ingest import jobs
from opsdesk.knowledge.ingest.jobs import MAX_ATTEMPTS, TASK, Lease, LeaseLost
from opsdesk.knowledge.ingest.runner import JobRunner
from opsdesk.knowledge.models import IngestionJob

_log = get_logger(__name__)
_RUNNER_KEY = "knowledge.ingest.runner"


def _runner(ctx: AppContext) -> JobRunner:
    """One runner (one pipeline, one concurrency bound) per process, however many jobs run at once."""
    found = ctx.extras.get(_RUNNER_KEY)
    if not isinstance(found, JobRunner) or found.ctx is not ctx:
        found = ctx.extras[_RUNNER_KEY] = JobRunner(ctx)
    return found


def _counts(job: IngestionJob) -> dict[str, int]:
    return {
        "total_items": max(job.total_items, job.done_items + job.failed_items + job.skipped_items),
        "done_items": job.done_items,
        "failed_items": job.failed_items,
        "skipped_items": job.skipped_items,
    }


@task(TASK, max_attempts=MAX_ATTEMPTS, backoff_base_s=5.0, backoff_cap_s=300.0, on_change=jobs.follow_change)
async def ingest(ctx: AppContext, run: JobRun) -> dict[str, Any]:
    """Adopts the row under this attempt and runs its items; an ingestion that ingested nothing fails the job."""
    lease = Lease(run.id, run.attempt)
    job = await jobs.adopt(ctx.db, lease)
    if job is None:
        return {"knowledge_base_deleted": True}
    if job.status == "done":  # finished by a run that died before the job layer heard of it
        return _counts(job)
    if job.status == "failed":
        raise JobFailed(job.error or "The ingestion failed.")
    if job.attempts != lease.attempt:
        raise RuntimeError(f"The ingestion row is held by attempt {job.attempts}; this is attempt {lease.attempt}.")
    try:
        with telemetry.span("job.ingest", **{"opsdesk.job_id": str(job.id)}):
            finished = await _runner(ctx).run(job, lease)
    except asyncio.CancelledError:
        # A graceful stop (the job goes back to the queue), a cancel or a takeover (the row is no longer ours).
        with contextlib.suppress(Exception):
            await asyncio.shield(jobs.release(ctx.db, lease))
        raise
    except LeaseLost:
        return {"lease_lost": True}
    except OpsdeskError as exc:
        await jobs.fail(ctx.db, lease, exc.message)
        raise JobFailed(exc.message) from exc
    except Exception as exc:
        _log.exception("ingest_job_crashed", job_id=str(job.id), attempt=lease.attempt, last=run.last_attempt)
        reason = f"The job stopped on an internal error ({type(exc).__name__}: {exc})"
        if run.last_attempt:
            await jobs.fail(ctx.db, lease, f"{reason}; retry it.")
        else:
            await jobs.back_off(ctx.db, lease, f"{reason}; it will be tried again.")
        raise
    if finished.status == "failed":
        raise JobFailed(finished.error or "Nothing was ingested.")
    return _counts(finished)
