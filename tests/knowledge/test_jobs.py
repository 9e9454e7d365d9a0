"""Durable jobs: leases and heartbeats, takeover of abandoned jobs, retry, idempotent reruns, SSE progress."""

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
from opsdesk.knowledge.ingest import jobs
from opsdesk.knowledge.ingest.pipeline import Pipeline, VersionRef
from opsdesk.knowledge.ingest.worker import start_in_process, stop_in_process
from opsdesk.knowledge.models import Chunk, DocumentVersion, IngestionJob
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


async def _age_heartbeat(ctx: AppContext, job_id: uuid.UUID, seconds: float) -> None:
    async with ctx.db.session() as session:
        await session.execute(
            update(IngestionJob)
            .where(IngestionJob.id == job_id)
            .values(heartbeat_at=utcnow() - timedelta(seconds=seconds))
        )


async def test_an_abandoned_job_is_taken_over_and_the_old_lease_is_dead(api: KnowledgeApi, ctx: AppContext) -> None:
    job_id = uuid.UUID(str((await _queue_api_job(api))["id"]))
    first = await jobs.claim(ctx.db)
    assert first == jobs.Lease(job_id, 1)
    assert await jobs.claim(ctx.db) is None  # running with a fresh heartbeat: nobody else takes it

    await _age_heartbeat(ctx, job_id, 120)
    second = await jobs.claim(ctx.db)
    assert second == jobs.Lease(job_id, 2)
    assert not await jobs.heartbeat(ctx.db, first)
    with pytest.raises(jobs.LeaseLost):
        await jobs.record(ctx.db, first, [])
    assert await jobs.heartbeat(ctx.db, second)


async def test_a_job_that_keeps_killing_its_worker_is_given_up(api: KnowledgeApi, ctx: AppContext) -> None:
    job_id = uuid.UUID(str((await _queue_api_job(api))["id"]))
    async with ctx.db.session() as session:
        await session.execute(
            update(IngestionJob).where(IngestionJob.id == job_id).values(status="running", attempts=jobs.MAX_ATTEMPTS)
        )
    await _age_heartbeat(ctx, job_id, 120)
    assert await jobs.claim(ctx.db) is None
    job = await api.job("notes", str(job_id))
    assert job["status"] == "failed"
    assert f"stopped {jobs.MAX_ATTEMPTS} times" in job["error"]


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
    api: KnowledgeApi, run_jobs: RunJobs, ctx: AppContext
) -> None:
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
            return await real.embed(texts)

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
    settings: Settings, tenant: Tenant, run_jobs: RunJobs
) -> None:
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
