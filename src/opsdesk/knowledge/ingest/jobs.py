"""Ingestion jobs: the `ingestion_jobs` row is a job's progress and per-item report; the job layer runs it.

Each ingestion job is one job of the task `knowledge.ingest` under the same id, enqueued in the transaction that
writes the row (decision 9, as amended). The job layer claims it, beats its heartbeat, takes it over from a worker
that died, retries it with backoff, and cancels and retries it over the jobs API; the row follows those changes for
the ingestion API, its SSE stream and the console. A run adopts the row with its job-layer attempt number, which is
then the lease every write of that run presents (`attempts` in the row), so a run whose job was taken over can no
longer touch it, and items already in the report are not redone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.errors import Conflict, NotFound
from opsdesk.db.base import utcnow
from opsdesk.db.engine import Database
from opsdesk.db.notify import notify
from opsdesk.jobs import service as job_layer
from opsdesk.jobs.models import Job
from opsdesk.jobs.registry import JobChange
from opsdesk.knowledge.ingest.pipeline import ItemOutcome
from opsdesk.knowledge.ingest.schemas import JobItemOut, JobOut, JobStatus
from opsdesk.knowledge.ingest.staging import Staged
from opsdesk.knowledge.models import IngestionJob, KnowledgeBase

TASK = "knowledge.ingest"
CHANNEL = "opsdesk_ingestion_jobs"  # a job's id, sent at commit by every write of its row: wakes its event streams
MAX_ATTEMPTS = 5  # claims before a job that keeps killing its workers is failed
_COUNTERS = {
    "ingested": "done_items",
    "failed": "failed_items",
    "unchanged": "skipped_items",
    "skipped": "skipped_items",
}


@dataclass(frozen=True, slots=True)
class Lease:
    """The right to run one job, valid while `attempts` in its row still equals `attempt`."""

    job_id: uuid.UUID
    attempt: int


class LeaseLost(Exception):
    """Another worker has taken the job over (this worker's heartbeat went stale)."""


async def create_job(
    session: AsyncSession,
    kb: KnowledgeBase,
    kind: str,
    params: dict[str, Any],
    staged: list[Staged] | None = None,
) -> IngestionJob:
    """Queues a job in the caller's transaction; staged uploads become its items (unchanged ones are reported)."""
    report: list[dict[str, Any]] = []
    if staged is not None:
        params = {**params, "items": [item.item() for item in staged if item.outcome == "queued"]}
        report = [item.report() for item in staged if item.outcome == "unchanged"]
    finished = staged is not None and not params["items"]
    job = IngestionJob(
        id=uuid.uuid4(),
        workspace_id=kb.workspace_id,
        kb_id=kb.id,
        kind=kind,
        params=params,
        status="done" if finished else "queued",
        attempts=0,
        total_items=len(staged) if staged is not None else 0,
        done_items=0,
        failed_items=0,
        skipped_items=len(report),
        report=report,
        finished_at=utcnow() if finished else None,
    )
    session.add(job)
    await session.flush()
    # One job, one id in both tables; a job with nothing left to do is enqueued too, so the jobs API lists it.
    payload = {"ingestion_job_id": str(job.id), "kb_id": str(kb.id), "kind": kind}
    await job_layer.enqueue(
        session, TASK, payload, workspace_id=kb.workspace_id, max_attempts=MAX_ATTEMPTS, job_id=job.id
    )
    return job


_ADOPT = text(
    """
    UPDATE ingestion_jobs
    SET status = 'running', attempts = :attempt, heartbeat_at = now(), error = NULL,
        started_at = coalesce(started_at, now()), finished_at = NULL
    WHERE id = :id AND status IN ('queued', 'running') AND attempts <= :attempt
    RETURNING id
    """
)


async def adopt(db: Database, lease: Lease) -> IngestionJob | None:
    """Marks the row running under this run's attempt (its lease from now on) and returns it; a finished row is
    returned as it is, a deleted one (its knowledge base went) as None."""
    async with db.session() as session:
        await session.execute(_ADOPT, {"id": lease.job_id, "attempt": lease.attempt})
        await changed(session, lease.job_id)
        return await session.get(IngestionJob, lease.job_id)


async def changed(session: AsyncSession, job_id: uuid.UUID) -> None:
    """Wakes the job's event streams in every process when the session's transaction commits."""
    await notify(session, CHANNEL, str(job_id))


def _owned(lease: Lease) -> Any:
    return (
        (IngestionJob.id == lease.job_id)
        & (IngestionJob.attempts == lease.attempt)
        & (IngestionJob.status == "running")
    )


async def record(db: Database, lease: Lease, outcomes: list[ItemOutcome], *, discovered: int = 0) -> None:
    """Appends item outcomes to the report and counts them, atomically; raises LeaseLost if the job moved on."""
    counts = {"done_items": 0, "failed_items": 0, "skipped_items": 0}
    for outcome in outcomes:
        counts[_COUNTERS[outcome.outcome]] += 1
    entries = bindparam("entries", [outcome.report() for outcome in outcomes], type_=JSONB)
    values: dict[str, Any] = {
        "report": IngestionJob.report.op("||")(entries),
        "heartbeat_at": func.now(),
        "total_items": IngestionJob.total_items + discovered,
    }
    for column, count in counts.items():
        values[column] = getattr(IngestionJob, column) + count
    async with db.session() as session:
        result = await session.execute(update(IngestionJob).where(_owned(lease)).values(**values))
        await changed(session, lease.job_id)
    if not result.rowcount:  # type: ignore[attr-defined]
        raise LeaseLost(str(lease.job_id))


async def set_total(db: Database, lease: Lease, total: int) -> None:
    async with db.session() as session:
        result = await session.execute(update(IngestionJob).where(_owned(lease)).values(total_items=total))
        await changed(session, lease.job_id)
    if not result.rowcount:  # type: ignore[attr-defined]
        raise LeaseLost(str(lease.job_id))


async def finish(db: Database, lease: Lease, *, nothing_found: str) -> IngestionJob:
    """Done, unless nothing at all could be ingested: then failed, with the first reason."""
    async with db.session() as session:
        job = await session.scalar(select(IngestionJob).where(_owned(lease)).with_for_update())
        if job is None:
            raise LeaseLost(str(lease.job_id))
        await changed(session, job.id)
        succeeded = [e for e in job.report if e.get("outcome") in ("ingested", "unchanged")]
        job.finished_at = utcnow()
        job.total_items = max(job.total_items, len(job.report))
        if succeeded:
            job.status, job.error = "done", None
            return job
        job.status = "failed"
        failed = [e for e in job.report if e.get("outcome") == "failed"]
        skipped = [e for e in job.report if e.get("outcome") == "skipped"]
        if failed:
            first = failed[0]
            job.error = f"No document could be ingested ({len(failed)} failed); '{first['key']}': {first.get('reason')}"
        elif skipped:
            first = skipped[0]
            job.error = f"{nothing_found} ({len(skipped)} skipped; '{first['key']}': {first.get('reason')})"
        else:
            job.error = nothing_found
        return job


async def fail(db: Database, lease: Lease, reason: str) -> None:
    async with db.session() as session:
        await session.execute(
            update(IngestionJob).where(_owned(lease)).values(status="failed", error=reason, finished_at=func.now())
        )
        await changed(session, lease.job_id)


async def back_off(db: Database, lease: Lease, reason: str) -> None:
    """Shows the row queued with the reason while the job layer waits to try it again."""
    async with db.session() as session:
        await session.execute(
            update(IngestionJob).where(_owned(lease)).values(status="queued", error=reason, heartbeat_at=None)
        )
        await changed(session, lease.job_id)


async def release(db: Database, lease: Lease) -> None:
    """Shows the row queued again when its run stops (the job layer hands the job back without counting the claim;
    a run that lost its job to a cancel or a takeover no longer owns the row, and this does nothing)."""
    async with db.session() as session:
        await session.execute(
            update(IngestionJob)
            .where(_owned(lease))
            .values(status="queued", attempts=IngestionJob.attempts - 1, heartbeat_at=None)
        )
        await changed(session, lease.job_id)


# --- the API's view ----------------------------------------------------------------------------------------------


async def get_job(session: AsyncSession, kb: KnowledgeBase, job_id: uuid.UUID) -> IngestionJob:
    job = await session.scalar(
        select(IngestionJob).where(
            IngestionJob.id == job_id, IngestionJob.kb_id == kb.id, IngestionJob.workspace_id == kb.workspace_id
        )
    )
    if job is None:
        raise NotFound(f"No ingestion job '{job_id}' in this knowledge base.", code="job_not_found")
    return job


async def list_jobs(
    session: AsyncSession, kb: KnowledgeBase, *, limit: int, offset: int, status: str | None = None
) -> tuple[list[IngestionJob], int]:
    query = select(IngestionJob).where(IngestionJob.kb_id == kb.id, IngestionJob.workspace_id == kb.workspace_id)
    if status:
        query = query.where(IngestionJob.status == status)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(query.order_by(IngestionJob.created_at.desc()).limit(limit).offset(offset))
    return list(rows), total


async def retry_job(session: AsyncSession, kb: KnowledgeBase, job_id: uuid.UUID) -> IngestionJob:
    """Queues a failed job (or one with failed items) again; items that succeeded are not redone."""
    job = await get_job(session, kb, job_id)
    await session.refresh(job, with_for_update=True)
    if job.status in ("queued", "running"):
        raise Conflict(f"The job is {job.status}; only a finished job can be retried.", code="job_not_finished")
    if job.status == "done" and job.failed_items == 0:
        raise Conflict("The job finished without failures; there is nothing to retry.", code="nothing_to_retry")
    _queue_again(job)
    layer_job = await session.get(Job, job.id, with_for_update=True)
    if layer_job is None:  # finished jobs leave the job layer after a while; the row stays
        await job_layer.enqueue(
            session,
            TASK,
            {"ingestion_job_id": str(job.id), "kb_id": str(kb.id), "kind": job.kind},
            workspace_id=kb.workspace_id,
            max_attempts=MAX_ATTEMPTS,
            job_id=job.id,
        )
    elif layer_job.status not in ("queued", "running"):
        await job_layer.requeue(session, layer_job)
    await changed(session, job.id)
    await session.flush()
    return job


def _queue_again(job: IngestionJob) -> None:
    """The row as queued again, without its failed items (they are redone, the rest is kept)."""
    job.report = [entry for entry in job.report if entry.get("outcome") != "failed"]
    job.failed_items = 0
    # `attempts` keeps counting: it mirrors the job layer's lease number.
    job.status, job.error, job.finished_at, job.heartbeat_at = "queued", None, None, None


async def follow_change(session: AsyncSession, change: JobChange) -> None:
    """The row follows a change the job layer made without running the job (the task's `on_change`): cancelled
    (ingestion has no cancelled state: a failure with a fixed reason), retried, or put back or failed for good
    after its worker went silent."""
    job = await session.get(IngestionJob, change.job_id, with_for_update=True)
    if job is None:
        return
    if change.cause == "retried":
        if job.status in ("failed", "done"):
            _queue_again(job)
    elif change.status == "queued":  # its worker went silent: the next claim resumes it
        if job.status == "running":
            job.status, job.heartbeat_at = "queued", None
    elif job.status in ("queued", "running"):  # cancelled, or failed for good after its worker went silent
        job.status, job.error, job.finished_at, job.heartbeat_at = "failed", change.error, utcnow(), None
    await changed(session, job.id)
    await session.flush()


def job_out(job: IngestionJob) -> JobOut:
    finished = job.done_items + job.failed_items + job.skipped_items
    total = max(job.total_items, finished)
    progress = 1.0 if job.status in ("done", "failed") else (finished / total if total else 0.0)
    params = {key: value for key, value in job.params.items() if key not in ("items", "allow_local")}
    if "items" in job.params:
        params["files"] = len(job.params["items"])
    return JobOut(
        id=job.id,
        kb_id=job.kb_id,
        kind=job.kind,
        status=JobStatus(job.status),
        error=job.error,
        params=params,
        attempts=job.attempts,
        total_items=total,
        done_items=job.done_items,
        failed_items=job.failed_items,
        skipped_items=job.skipped_items,
        progress=round(progress, 4),
        report=[JobItemOut.model_validate(entry) for entry in job.report],
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        heartbeat_at=job.heartbeat_at,
    )
