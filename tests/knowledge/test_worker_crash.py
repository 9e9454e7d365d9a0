"""Crash test: an `opsdesk worker` process is killed (SIGKILL) mid-ingestion; the job layer gives the job to another,
which resumes it without redoing finished items, and the chunks are exactly those of a clean run, no duplicates."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, tuple_

from opsdesk.app.context import AppContext
from opsdesk.knowledge.models import Chunk, Document, DocumentVersion
from tests.knowledge.conftest import KnowledgeApi

RunJobs = Callable[[], Awaitable[None]]
DOCUMENTS = 160


def _documents() -> list[dict[str, str]]:
    return [
        {
            "key": f"runbook/{i:03d}",
            "title": f"Runbook {i}",
            "text": f"Step {i}: restart service {i % 7} and check its health endpoint.\n\n"
            f"If it fails, page the on-call engineer for team {i % 5}.",
        }
        for i in range(DOCUMENTS)
    ]


def _start_worker(database_url: str, workdir: Path, name: str, *extra: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "OPSDESK_DATABASE_URL": database_url,
        "OPSDESK_DATA_DIR": str(workdir),
        "OPSDESK_LOCAL_LLM_ENABLED": "false",
        "OPSDESK_INGEST_CONCURRENCY": "1",
        "OPSDESK_INGEST_EMBED_BATCH": "4",
        "OPSDESK_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "opsdesk.cli", "worker", "--stale-after", "3", "--heartbeat", "0.5"]
    log = (workdir / f"{name}.log").open("wb")
    return subprocess.Popen([*command, *extra], cwd=workdir, env=env, stdout=log, stderr=log)


async def _chunks_by_key(ctx: AppContext, kb_id: str) -> dict[str, int]:
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(Document.source_key, func.count(Chunk.id))
            .join(Chunk, Chunk.document_id == Document.id)
            .where(Document.kb_id == uuid.UUID(kb_id))
            .group_by(Document.source_key)
        )
        return dict(rows.all())


async def test_a_killed_worker_leaves_a_job_that_another_worker_finishes_without_duplicates(
    api: KnowledgeApi, run_jobs: RunJobs, ctx: AppContext, database_url: str, tmp_path: Path
) -> None:
    crashy = await api.create_kb("crashy")
    response = await api.post("/crashy/ingest", {"kind": "api", "documents": _documents()})
    job_id = response.json()["id"]

    first = _start_worker(database_url, tmp_path, "first")
    seen: dict[str, Any] = {}
    try:
        deadline = time.monotonic() + 300  # a worker starts in seconds; at load 12 it took minutes
        while time.monotonic() < deadline:
            seen = await api.job("crashy", job_id)
            if seen["done_items"] >= 16 or first.poll() is not None:
                break
            await asyncio.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    assert seen["status"] == "running", (seen, (tmp_path / "first.log").read_text())
    assert 0 < seen["done_items"] < DOCUMENTS, "the kill must land mid-job"

    second = _start_worker(database_url, tmp_path, "second", "--until-idle")
    try:
        await asyncio.wait_for(asyncio.to_thread(second.wait), timeout=180)
    finally:
        if second.poll() is None:
            second.kill()
    assert second.returncode == 0, (tmp_path / "second.log").read_text()

    job = await api.job("crashy", job_id)
    assert job["status"] == "done", job
    assert job["attempts"] == 2
    assert (job["done_items"], job["failed_items"], job["total_items"]) == (DOCUMENTS, 0, DOCUMENTS)
    assert sorted(item["key"] for item in job["report"]) == sorted(doc["key"] for doc in _documents())

    async with ctx.db.session() as session:
        total = await session.scalar(select(func.count()).select_from(Chunk))
        distinct = await session.scalar(select(func.count(func.distinct(tuple_(Chunk.version_id, Chunk.ordinal)))))
        versions = (await session.scalars(select(DocumentVersion))).all()
        stored = dict((await session.execute(select(Chunk.version_id, func.count()).group_by(Chunk.version_id))).all())
    assert total == distinct
    assert len(versions) == DOCUMENTS
    assert all(v.status == "ready" and v.chunk_count == stored[v.id] for v in versions)

    # The same documents ingested by one uninterrupted run give the same chunks.
    clean = await api.create_kb("clean")
    await api.post("/clean/ingest", {"kind": "api", "documents": _documents()})
    await run_jobs()
    assert await _chunks_by_key(ctx, crashy["id"]) == await _chunks_by_key(ctx, clean["id"])
