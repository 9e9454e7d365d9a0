"""Durable ingestion jobs: a queue on the `ingestion_jobs` table (FOR UPDATE SKIP LOCKED), leases and heartbeats.

A job is claimed by incrementing `attempts`; that number is the lease every later write must present, so a worker
that lost its job (its heartbeat went stale and another worker took over) can no longer touch it. A running job
whose heartbeat is older than `stale_after_s` is claimed again and resumes: items already in its report are not
redone. After `MAX_ATTEMPTS` claims a job that keeps killing its workers is failed instead.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Uuid, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.errors import Conflict, NotFound
from opsdesk.db.base import utcnow
from opsdesk.db.engine import Database
from opsdesk.knowledge.ingest.pipeline import ItemOutcome
from opsdesk.knowledge.ingest.schemas import JobItemOut, JobOut, JobStatus
from opsdesk.knowledge.ingest.staging import Staged
from opsdesk.knowledge.models import IngestionJob, KnowledgeBase

MAX_ATTEMPTS = 5
STALE_AFTER_S = 30.0
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
    return job


_CLAIM = text(
    """
    UPDATE ingestion_jobs AS j
    SET status = 'running', attempts = j.attempts + 1, heartbeat_at = now(), error = NULL,
        started_at = coalesce(j.started_at, now()), finished_at = NULL
    FROM (
        SELECT id FROM ingestion_jobs
        WHERE (:job_id IS NULL OR id = :job_id)
          AND (status = 'queued'
               OR (status = 'running' AND heartbeat_at < now() - make_interval(secs => :stale)
                   AND attempts < :max_attempts))
        ORDER BY created_at
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    ) AS c
    WHERE j.id = c.id
    RETURNING j.id, j.attempts
    """
).bindparams(bindparam("job_id", type_=Uuid))

_GIVE_UP = text(
    """
    UPDATE ingestion_jobs
    SET status = 'failed', finished_at = now(),
        error = 'The worker stopped ' || attempts || ' times while running this job; it was given up. '
                || 'Retry it, or look for a document that crashes the worker.'
    WHERE status = 'running' AND heartbeat_at < now() - make_interval(secs => :stale) AND attempts >= :max_attempts
    """
)


async def claim(db: Database, *, stale_after_s: float = STALE_AFTER_S, job_id: uuid.UUID | None = None) -> Lease | None:
    """Claims the oldest queued (or abandoned) job, or the given one; None when there is nothing to run."""
    async with db.session() as session:
        await session.execute(_GIVE_UP, {"stale": stale_after_s, "max_attempts": MAX_ATTEMPTS})
        row = (
            await session.execute(_CLAIM, {"job_id": job_id, "stale": stale_after_s, "max_attempts": MAX_ATTEMPTS})
        ).first()
    return Lease(row[0], row[1]) if row is not None else None


async def has_work(db: Database) -> bool:
    """True while any job is queued or running (in this or another worker)."""
    async with db.session() as session:
        found = await session.scalar(
            select(IngestionJob.id).where(IngestionJob.status.in_(("queued", "running"))).limit(1)
        )
    return found is not None


def _owned(lease: Lease) -> Any:
    return (
        (IngestionJob.id == lease.job_id)
        & (IngestionJob.attempts == lease.attempt)
        & (IngestionJob.status == "running")
    )


async def heartbeat(db: Database, lease: Lease) -> bool:
    """Keeps the lease alive; False when the job is no longer this worker's."""
    async with db.session() as session:
        result = await session.execute(update(IngestionJob).where(_owned(lease)).values(heartbeat_at=func.now()))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def load(db: Database, lease: Lease) -> IngestionJob:
    async with db.session() as session:
        job = await session.get(IngestionJob, lease.job_id)
    if job is None or job.attempts != lease.attempt:
        raise LeaseLost(str(lease.job_id))
    return job


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
    if not result.rowcount:  # type: ignore[attr-defined]
        raise LeaseLost(str(lease.job_id))


async def set_total(db: Database, lease: Lease, total: int) -> None:
    async with db.session() as session:
        result = await session.execute(update(IngestionJob).where(_owned(lease)).values(total_items=total))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise LeaseLost(str(lease.job_id))


async def finish(db: Database, lease: Lease, *, nothing_found: str) -> None:
    """Done, unless nothing at all could be ingested: then failed, with the first reason."""
    async with db.session() as session:
        job = await session.scalar(select(IngestionJob).where(_owned(lease)).with_for_update())
        if job is None:
            raise LeaseLost(str(lease.job_id))
        succeeded = [e for e in job.report if e.get("outcome") in ("ingested", "unchanged")]
        job.finished_at = utcnow()
        job.total_items = max(job.total_items, len(job.report))
        if succeeded:
            job.status, job.error = "done", None
            return
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


async def fail(db: Database, lease: Lease, reason: str) -> None:
    async with db.session() as session:
        await session.execute(
            update(IngestionJob).where(_owned(lease)).values(status="failed", error=reason, finished_at=func.now())
        )


async def release(db: Database, lease: Lease) -> None:
    """Hands a job back to the queue on a graceful stop; the claim is not counted as an attempt."""
    async with db.session() as session:
        await session.execute(
            update(IngestionJob)
            .where(_owned(lease))
            .values(status="queued", attempts=IngestionJob.attempts - 1, heartbeat_at=None)
        )


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
    kept = [entry for entry in job.report if entry.get("outcome") != "failed"]
    job.report = kept
    job.failed_items = 0
    # `attempts` keeps counting: it is the lease number, and a job that crashes workers again is given up sooner.
    job.status, job.error, job.finished_at, job.heartbeat_at = "queued", None, None, None
    await session.flush()
    return job


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
