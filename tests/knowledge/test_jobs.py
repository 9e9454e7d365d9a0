"""Ingestion jobs on the job layer: claimed as the task `knowledge.ingest`, taken over from a dead worker and resumed
item by item, cancelled and retried over the jobs API and the ingestion API, idempotent reruns, SSE progress."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from opsdesk.api import create_app
from opsdesk.app.context import AppContext
from opsdesk.core.settings import Settings
from opsdesk.db.base import utcnow
from opsdesk.jobs import service as job_layer
from opsdesk.jobs.models import Job
from opsdesk.knowledge.ingest import jobs
from opsdesk.knowledge.ingest import service as ingest_service
from opsdesk.knowledge.ingest.pipeline import Pipeline, VersionRef
from opsdesk.knowledge.ingest.worker import start_in_process, stop_in_process
from opsdesk.knowledge.models import Chunk, Document, DocumentVersion
from tests.conftest import Tenant
from tests.knowledge.conftest import KnowledgeApi
from tests.support.live_server import LiveServer

RunJobs = Callable[[], Awaitable[None]]


def _docs(count: int) -> list[dict[str, str]]:
    return [
        {"key": f"note-{i}", "title": f"Note {i}", "text": f"Fact number {i} is worth keeping."} for i in range(count)
    ]


async def _queue_api_job(api: KnowledgeApi, count: int = 3) -> dict[str, object]:
    await api.create_kb("notes")
    response = await api.post("/notes/ingest", {"kind": "api", "documents": _docs(count)})
    assert response.status_code == 202, response.text
    job: dict[str, object] = response.json()
    return job


def _jobs_url(api: KnowledgeApi, suffix: str = "") -> str:
    return f"/api/v1/workspaces/{api.tenant.slug}/jobs{suffix}"


async def _age_heartbeat(ctx: AppContext, job_id: uuid.UUID, seconds: float) -> None:
    """As if the worker running the job had stopped `seconds` ago (killed: it neither finished nor handed it back)."""
    async with ctx.db.session() as session:
        await session.execute(
            update(Job).where(Job.id == job_id).values(heartbeat_at=utcnow() - timedelta(seconds=seconds))
        )


async def test_an_upload_is_claimed_through_the_job_layer_as_the_task_knowledge_ingest(
    api: KnowledgeApi, run_jobs: RunJobs
) -> None:
    await api.create_kb("notes")
    uploaded = await api.upload_ok("notes", ("a.md", b"# A\n\nalpha"), ("b.md", b"# B\n\nbeta"))

    queued = (await api.http.get(_jobs_url(api), params={"task": "knowledge.ingest"}, headers=api.headers)).json()
    await run_jobs()
    listed = (await api.http.get(_jobs_url(api), params={"task": "knowledge.ingest"}, headers=api.headers)).json()

    [waiting] = queued["items"]
    assert (waiting["id"], waiting["task"], waiting["status"]) == (uploaded["id"], "knowledge.ingest", "queued")
    assert waiting["payload"]["ingestion_job_id"] == uploaded["id"]
    [finished] = listed["items"]  # one ingestion job is one job of the job layer, listed once
    assert (finished["status"], finished["attempts"]) == ("succeeded", 1)
    assert finished["result"] == {"total_items": 2, "done_items": 2, "failed_items": 0, "skipped_items": 0}
    job = await api.job("notes", uploaded["id"])
    assert (job["status"], job["attempts"], job["done_items"]) == ("done", 1, 2)


async def test_a_job_whose_worker_died_is_taken_over_and_resumes_without_redoing_finished_items(
    api: KnowledgeApi, run_jobs: RunJobs, ctx: AppContext
) -> None:
    job_id = uuid.UUID(str((await _queue_api_job(api, count=3))["id"]))
    # The first worker claims the job, adopts the row, ingests one document and dies.
    claimed = await job_layer.claim(ctx.db, [jobs.TASK])
    assert claimed is not None and claimed.job_id == job_id
    first = jobs.Lease(job_id, claimed.attempt)
    adopted = await jobs.adopt(ctx.db, first)
    assert adopted is not None and adopted.status == "running"
    async with ctx.db.session() as session:
        version = await session.scalar(select(DocumentVersion).join(Document).where(Document.source_key == "note-0"))
        assert version is not None
    await jobs.record(ctx.db, first, await Pipeline(ctx).process([VersionRef("note-0", version.id)]))
    async with ctx.db.session() as session:
        chunks_before = set(await session.scalars(select(Chunk.id).where(Chunk.version_id == version.id)))
    await _age_heartbeat(ctx, job_id, 120)

    await run_jobs()

    job = await api.job("notes", str(job_id))
    assert (job["status"], job["attempts"], job["done_items"]) == ("done", 2, 3)
    assert sorted(item["key"] for item in job["report"]) == ["note-0", "note-1", "note-2"]  # note-0 once
    async with ctx.db.session() as session:
        chunks_after = set(await session.scalars(select(Chunk.id).where(Chunk.version_id == version.id)))
        layer = await session.get(Job, job_id)
    assert chunks_after == chunks_before  # note-0 was not ingested again
    assert layer is not None and (layer.status, layer.attempts) == ("succeeded", 2)
    with pytest.raises(jobs.LeaseLost):  # the dead worker's lease is dead too
        await jobs.record(ctx.db, first, [])


async def test_a_job_that_keeps_killing_its_worker_is_failed_by_the_job_layer(
    api: KnowledgeApi, ctx: AppContext
) -> None:
    job_id = uuid.UUID(str((await _queue_api_job(api))["id"]))
    for _ in range(jobs.MAX_ATTEMPTS):  # every claim's worker dies
        lease = await job_layer.claim(ctx.db, [jobs.TASK])
        assert lease is not None
        assert await jobs.adopt(ctx.db, jobs.Lease(job_id, lease.attempt)) is not None
        await _age_heartbeat(ctx, job_id, 120)
        await job_layer.reclaim_stale(ctx.db)

    job = await api.job("notes", str(job_id))
    assert job["status"] == "failed"
    assert f"attempt {jobs.MAX_ATTEMPTS} of {jobs.MAX_ATTEMPTS} stopped without finishing" in job["error"]
    assert await job_layer.claim(ctx.db, [jobs.TASK]) is None


async def test_a_running_ingestion_is_cancelled_and_retried_over_the_jobs_api(
    api: KnowledgeApi, run_jobs: RunJobs, ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ctx.providers.embedder()
    stuck, stopped = asyncio.Event(), asyncio.Event()

    class Stuck:
        async def embed(self, texts: list[str]) -> list[list[float]]:
            stuck.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                stopped.set()
                raise
            vectors: list[list[float]] = await real.embed(texts)
            return vectors

    monkeypatch.setattr(ctx.providers, "embedder", lambda: Stuck())
    job_id = str((await _queue_api_job(api, count=3))["id"])
    worker = await start_in_process(ctx, heartbeat_s=0.1)
    assert worker is not None
    try:
        await asyncio.wait_for(stuck.wait(), timeout=60)
        cancelled = await api.http.post(_jobs_url(api, f"/{job_id}/cancel"), headers=api.headers)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        await asyncio.wait_for(stopped.wait(), timeout=30)  # the worker's next heartbeat finds the job cancelled
    finally:
        await stop_in_process(ctx)
    after_cancel = await api.job("notes", job_id)
    assert (after_cancel["status"], after_cancel["error"]) == ("failed", "Cancelled over the jobs API.")

    monkeypatch.setattr(ctx.providers, "embedder", lambda: real)
    retried = await api.http.post(_jobs_url(api, f"/{job_id}/retry"), headers=api.headers)
    assert retried.status_code == 200 and retried.json()["status"] == "queued"
    assert (await api.job("notes", job_id))["status"] == "queued"
    await run_jobs()

    done = await api.job("notes", job_id)
    assert (done["status"], done["done_items"]) == ("done", 3)
    assert sorted(item["key"] for item in done["report"]) == ["note-0", "note-1", "note-2"]


async def test_a_rerun_of_a_version_rewrites_its_chunks_without_duplicates(
    api: KnowledgeApi, run_jobs: RunJobs, ctx: AppContext
) -> None:
    await _queue_api_job(api, count=1)
    await run_jobs()
    async with ctx.db.session() as session:
        version = await session.scalar(select(DocumentVersion))
        assert version is not None
        before = await session.scalar(select(func.count()).select_from(Chunk))
        # As if a worker died after writing the chunks but before anyone saw the version ready.
        version.status = "processing"
    (outcome,) = await Pipeline(ctx).process([VersionRef("note-0", version.id)])
    assert outcome.outcome == "ingested"
    async with ctx.db.session() as session:
        after = await session.scalar(select(func.count()).select_from(Chunk))
        ordinals = await session.scalar(select(func.count(func.distinct(Chunk.ordinal))).select_from(Chunk))
    assert after == before == ordinals


async def test_a_failed_job_is_retried_and_finishes(
    api: KnowledgeApi, run_jobs: RunJobs, ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = await _queue_api_job(api, count=2)
    real = ctx.providers.embedder()

    class Broken:
        async def embed(self, texts: list[str]) -> list[list[float]]:
            raise RuntimeError("embedding service unreachable")

    monkeypatch.setattr(ctx.providers, "embedder", lambda: Broken())
    await run_jobs()
    failed = await api.job("notes", str(job["id"]))
    assert failed["status"] == "failed"
    assert "embedding service unreachable" in failed["error"]
    assert (await api.post(f"/notes/jobs/{job['id']}/retry")).status_code == 202
    busy = await api.post(f"/notes/jobs/{job['id']}/retry")
    assert busy.status_code == 409  # queued again: not retryable twice

    monkeypatch.setattr(ctx.providers, "embedder", lambda: real)
    await run_jobs()
    done = await api.job("notes", str(job["id"]))
    assert done["status"] == "done"
    assert (done["done_items"], done["failed_items"]) == (2, 0)
    assert [doc["status"] for doc in await api.documents("notes")] == ["ready", "ready"]
    nothing_left = await api.post(f"/notes/jobs/{job['id']}/retry")
    assert nothing_left.status_code == 409


async def test_an_upload_with_an_idempotency_key_is_stored_once(api: KnowledgeApi) -> None:
    await api.create_kb("notes")
    headers = {**api.headers, "Idempotency-Key": "upload-1"}
    files = [("files", ("a.md", b"# A\n\nalpha", "text/markdown"))]
    first = await api.http.post(f"{api.base}/notes/documents", files=files, headers=headers)
    second = await api.http.post(f"{api.base}/notes/documents", files=files, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert (await api.get("/notes/jobs")).json()["total"] == 1


async def test_progress_streams_over_sse_until_the_job_is_done(
    api: KnowledgeApi, run_jobs: RunJobs, ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stream wakes on the job's change notices (PostgreSQL NOTIFY at each write's commit): with the fallback
    poll at an hour, every event after the first arrived because a notice woke the stream."""
    monkeypatch.setattr(ingest_service, "_FALLBACK_POLL_S", 3600.0)
    job = await _queue_api_job(api, count=4)
    stream = asyncio.create_task(api.http.get(f"{api.base}/notes/jobs/{job['id']}/events", headers=api.headers))
    await asyncio.sleep(0.3)
    await run_jobs()
    response = await asyncio.wait_for(stream, timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [block for block in response.text.replace("\r\n", "\n").split("\n\n") if block.startswith("event:")]
    names = [block.split("\n")[0].removeprefix("event:").strip() for block in events]
    assert names[0] == "progress" and names[-1] == "done"
    final = json.loads(events[-1].split("data:", 1)[1])
    assert final["done_items"] == 4 and final["progress"] == 1.0


async def test_the_in_process_worker_runs_jobs_queued_through_the_api(api: KnowledgeApi, ctx: AppContext) -> None:
    worker = await start_in_process(ctx)
    assert worker is not None
    try:
        job = await _queue_api_job(api, count=2)
        for _ in range(200):
            status = (await api.job("notes", str(job["id"])))["status"]
            if status in ("done", "failed"):
                break
            await asyncio.sleep(0.1)
        assert status == "done"
    finally:
        await stop_in_process(ctx)
    assert "knowledge.worker" not in ctx.extras


async def test_jobs_are_listed_newest_first_and_filtered_by_status(api: KnowledgeApi, run_jobs: RunJobs) -> None:
    await _queue_api_job(api, count=1)
    await run_jobs()
    await api.post("/notes/ingest", {"kind": "api", "documents": [{"key": "late", "text": "later"}]})
    listed = (await api.get("/notes/jobs")).json()
    assert listed["total"] == 2
    assert [job["status"] for job in listed["items"]] == ["queued", "done"]
    assert (await api.get("/notes/jobs", status="done")).json()["total"] == 1


async def test_stopping_the_in_process_worker_hands_its_running_job_back(
    api: KnowledgeApi, run_jobs: RunJobs, ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ctx.providers.embedder()
    started = asyncio.Event()

    class Slow:
        async def embed(self, texts: list[str]) -> list[list[float]]:
            started.set()
            await asyncio.sleep(30)
            vectors: list[list[float]] = await real.embed(texts)
            return vectors

    monkeypatch.setattr(ctx.providers, "embedder", lambda: Slow())
    job = await _queue_api_job(api, count=2)
    await start_in_process(ctx)
    await asyncio.wait_for(started.wait(), timeout=30)
    assert (await api.job("notes", str(job["id"])))["status"] == "running"
    await stop_in_process(ctx)

    handed_back = await api.job("notes", str(job["id"]))
    assert (handed_back["status"], handed_back["attempts"]) == ("queued", 0)
    monkeypatch.setattr(ctx.providers, "embedder", lambda: real)
    await run_jobs()
    assert (await api.job("notes", str(job["id"])))["status"] == "done"


async def test_sse_progress_arrives_over_real_http_before_the_job_ends(
    settings: Settings, tenant: Tenant, run_jobs: RunJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_service, "_FALLBACK_POLL_S", 3600.0)  # the worker's notices end the stream
    server = LiveServer(create_app(settings)).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            api = KnowledgeApi(http, tenant)
            job = await _queue_api_job(api, count=2)
            url = f"{api.base}/notes/jobs/{job['id']}/events"
            async with http.stream("GET", url, headers=api.headers) as response:
                assert response.status_code == 200
                lines = response.aiter_lines()
                assert await anext(lines) == "event: progress"  # streamed while the job is still queued
                await run_jobs()
                seen = [line async for line in lines if line.startswith("event:")]
            assert seen[-1] == "event: done"
    finally:
        server.stop()
