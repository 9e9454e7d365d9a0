"""Migration 0052: ingestion rows written before ingestion ran on the job layer get their `jobs` row, and the ones
that were waiting or running then are run by the job layer, resuming from their report."""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType

from sqlalchemy import delete, select, text, update

from opsdesk.app.context import AppContext
from opsdesk.jobs.models import Job
from opsdesk.jobs.service import CANCELLED
from opsdesk.knowledge.ingest import jobs
from opsdesk.knowledge.models import IngestionJob
from tests.knowledge.conftest import KnowledgeApi

RunJobs = Callable[[], Awaitable[None]]
_VERSIONS = Path(jobs.__file__).parents[2] / "db" / "migrations" / "versions"


def _migration() -> ModuleType:
    spec = importlib.util.spec_from_file_location("migration_0052", _VERSIONS / "0052_ingestion_on_job_layer.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _legacy(ctx: AppContext, api: KnowledgeApi, key: str, **row: object) -> uuid.UUID:
    """An ingestion job as the old code left it: its row (in the given state) and no job of the job layer."""
    response = await api.post("/notes/ingest", {"kind": "api", "documents": [{"key": key, "text": f"{key} text"}]})
    job_id = uuid.UUID(response.json()["id"])
    async with ctx.db.session() as session:
        await session.execute(delete(Job).where(Job.id == job_id))
        if row:
            await session.execute(update(IngestionJob).where(IngestionJob.id == job_id).values(**row))
    return job_id


async def test_old_ingestion_rows_become_jobs_and_the_unfinished_ones_run(
    api: KnowledgeApi, run_jobs: RunJobs, ctx: AppContext
) -> None:
    kb = await api.create_kb("notes")
    running = await _legacy(ctx, api, "running", status="running", attempts=1)
    cancelled = await _legacy(ctx, api, "cancelled", status="failed", error=CANCELLED, attempts=1)
    done = await _legacy(ctx, api, "done", status="done", attempts=1, done_items=1, total_items=1)
    migration = _migration()

    async with ctx.db.session() as session:
        await session.execute(text(migration.QUEUE_RUNNING))
        await session.execute(text(migration.BACKFILL))
        await session.execute(text(migration.BACKFILL))  # a second run adds nothing
    async with ctx.db.session() as session:
        migrated = {job.id: job for job in await session.scalars(select(Job).where(Job.task == jobs.TASK))}

    assert {job_id: migrated[job_id].status for job_id in (running, cancelled, done)} == {
        running: "queued",
        cancelled: "cancelled",
        done: "succeeded",
    }
    assert migrated[running].payload == {"ingestion_job_id": str(running), "kb_id": kb["id"], "kind": "api"}
    assert migrated[done].result == {"total_items": 1, "done_items": 1, "failed_items": 0, "skipped_items": 0}
    await run_jobs()
    resumed = await api.job("notes", str(running))
    assert (resumed["status"], resumed["attempts"], resumed["done_items"]) == ("done", 2, 1)
    assert (await api.job("notes", str(cancelled)))["status"] == "failed"  # a cancelled job is not run
