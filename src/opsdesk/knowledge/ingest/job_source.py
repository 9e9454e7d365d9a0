"""Ingestion jobs in the jobs API: listed, retried and cancelled with every other background job.

They keep their own table and claims (decision 9: a job row is its own progress and report, resumed item by item),
so they join the API's view as a source. Their statuses read as the job layer's (done is `succeeded`); ingestion
has no cancelled state of its own, so a cancelled job is a failed one whose error says it was cancelled, and a
retry resumes it without redoing the items already ingested.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Integer, Select, String, case, cast, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.errors import Conflict
from opsdesk.knowledge.ingest import jobs
from opsdesk.knowledge.models import IngestionJob, KnowledgeBase

CANCELLED = "Cancelled over the jobs API."


class IngestionJobs:
    name = "ingestion"

    def listing(self) -> Select[Any]:
        job = IngestionJob
        cancelled = (job.status == "failed") & (job.error == CANCELLED)
        status = case((cancelled, "cancelled"), (job.status == "done", "succeeded"), else_=job.status)
        counts = func.jsonb_build_object(
            "total_items", job.total_items,
            "done_items", job.done_items,
            "failed_items", job.failed_items,
            "skipped_items", job.skipped_items,
        )  # fmt: skip
        # the parameters without the (long) item list, and the knowledge base
        without = job.params.op("-")(literal("items", String)).op("-")(literal("allow_local", String))
        payload = without.op("||")(func.jsonb_build_object("kb_id", job.kb_id))
        return select(
            job.id,
            job.workspace_id,
            ("knowledge.ingest." + job.kind).label("task"),
            status.label("status"),
            job.attempts,
            literal(jobs.MAX_ATTEMPTS, Integer).label("max_attempts"),
            payload.label("payload"),
            counts.label("result"),
            job.error.label("last_error"),
            job.created_at.label("run_after"),
            job.heartbeat_at,
            job.started_at,
            job.finished_at,
            job.created_at,
            func.coalesce(job.finished_at, job.heartbeat_at, job.started_at, job.created_at).label("updated_at"),
            cast(literal(self.name), String).label("source"),
        )

    async def _job(self, session: AsyncSession, workspace_id: uuid.UUID, job_id: uuid.UUID) -> IngestionJob | None:
        return await session.scalar(
            select(IngestionJob).where(IngestionJob.id == job_id, IngestionJob.workspace_id == workspace_id)
        )

    async def retry(self, session: AsyncSession, workspace_id: uuid.UUID, job_id: uuid.UUID) -> bool:
        job = await self._job(session, workspace_id, job_id)
        if job is None:
            return False
        kb = await session.get(KnowledgeBase, job.kb_id)
        if kb is None:
            return False
        await jobs.retry_job(session, kb, job_id)
        return True

    async def cancel(self, session: AsyncSession, workspace_id: uuid.UUID, job_id: uuid.UUID) -> bool:
        job = await self._job(session, workspace_id, job_id)
        if job is None:
            return False
        # A running job's worker sees the status change at its next heartbeat (its lease needs 'running') and stops.
        cancelled = await session.execute(
            update(IngestionJob)
            .where(IngestionJob.id == job_id, IngestionJob.status.in_(("queued", "running")))
            .values(status="failed", error=CANCELLED, finished_at=func.now(), heartbeat_at=None)
        )
        if not cancelled.rowcount:  # type: ignore[attr-defined]
            message = f"The job is {job.status}; only a queued or running job can be cancelled."
            raise Conflict(message, code="job_finished")
        return True
