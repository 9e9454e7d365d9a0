"""Ingestion API: multipart uploads, crawl/git/API ingestion, job status, retry and progress over SSE."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Header, UploadFile
from sqlalchemy.ext.asyncio import AsyncSession
from sse_starlette import EventSourceResponse

from opsdesk.app.context import AppContext
from opsdesk.auth.deps import Paging, get_ctx, paging
from opsdesk.auth.schemas import Page
from opsdesk.auth.service import Principal
from opsdesk.core.errors import InvalidInput
from opsdesk.core.uploads import read_upload
from opsdesk.db.idempotency import run_idempotent
from opsdesk.knowledge import service
from opsdesk.knowledge.deps import PREFIX, can_read, can_write, guards, session_dep
from opsdesk.knowledge.ingest import jobs
from opsdesk.knowledge.ingest import service as ingest_service
from opsdesk.knowledge.ingest import tasks as _registers_the_task  # noqa: F401 (cancel/retry over the jobs API reach the row)
from opsdesk.knowledge.ingest.schemas import ApiIngest, CrawlIngest, IngestRequest, JobOut, JobStatus
from opsdesk.knowledge.ingest.staging import SourceFile, content_hash

router = APIRouter(prefix=PREFIX, tags=["knowledge"], dependencies=guards)


async def _read_upload(upload: UploadFile, limit: int, version: str | None, tags: list[str]) -> SourceFile:
    key = ingest_service.clean_key(upload.filename or "")
    data = await read_upload(upload, limit, what=f"'{key}'")
    meta = {"filename": key}
    return SourceFile(key, data, key, upload.content_type, tags, meta, version)


@router.post("/{kb}/documents", response_model=JobOut, status_code=202)
async def upload_documents(
    workspace: str,
    kb: str,
    files: list[UploadFile] = File(..., description="One or more files: md, txt, html, pdf, docx, xlsx, csv, json."),
    version: str | None = Form(default=None, description="v1.2.3 for every file; default: the next patch."),
    tags: str | None = Form(default=None, description="Comma-separated tags for every file."),
    idempotency_key: str | None = Header(default=None, max_length=200),
    principal: Principal = Depends(can_write),
    ctx: AppContext = Depends(get_ctx),
    session: AsyncSession = session_dep,
) -> Any:
    """Stores the files and queues their ingestion; the job (202) reports each file's outcome."""
    if "\x00" in (tags or "") + (version or ""):
        raise InvalidInput("The form fields must not contain NUL characters.", code="invalid_value")
    base = await service.get_kb(session, principal.workspace_id, kb)
    tag_list = [tag.strip()[:64] for tag in (tags or "").split(",") if tag.strip()]
    limit = ctx.settings.max_upload_bytes
    sources = [await _read_upload(upload, limit, version, tag_list) for upload in files]
    ingest_service.check_upload(sources, ctx.settings)

    async def create() -> JobOut:
        return jobs.job_out(await ingest_service.queue_files(session, base, sources))

    fingerprint = {
        "files": [{"key": f.key, "sha256": content_hash(f.data)} for f in sources],
        "version": version,
        "tags": tag_list,
    }
    return await run_idempotent(
        session,
        workspace_id=principal.workspace_id,
        route=f"knowledge-bases/{base.id}/documents",
        key=idempotency_key,
        request=fingerprint,
        create=create,
        status_code=202,
    )


@router.post("/{kb}/ingest", response_model=JobOut, status_code=202)
async def ingest(
    workspace: str,
    kb: str,
    body: IngestRequest,
    idempotency_key: str | None = Header(default=None, max_length=200),
    principal: Principal = Depends(can_write),
    ctx: AppContext = Depends(get_ctx),
    session: AsyncSession = session_dep,
) -> Any:
    """Queues a crawl (`kind: crawl`), a git repository (`kind: git`) or documents sent as JSON (`kind: api`)."""
    base = await service.get_kb(session, principal.workspace_id, kb)

    async def create() -> JobOut:
        if isinstance(body, ApiIngest):
            job = await ingest_service.queue_files(session, base, ingest_service.api_files(body), source="api")
        elif isinstance(body, CrawlIngest):
            job = await ingest_service.queue_crawl(session, ctx.settings, base, body)
        else:
            job = await ingest_service.queue_git(session, ctx.settings, base, body)
        return jobs.job_out(job)

    return await run_idempotent(
        session,
        workspace_id=principal.workspace_id,
        route=f"knowledge-bases/{base.id}/ingest",
        key=idempotency_key,
        request=body.model_dump(mode="json"),
        create=create,
        status_code=202,
    )


@router.get("/{kb}/jobs", response_model=Page[JobOut])
async def list_jobs(
    workspace: str,
    kb: str,
    asked: Paging = Depends(paging),
    status: JobStatus | None = None,
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> Page[JobOut]:
    """Ingestion jobs of the knowledge base, newest first."""
    base = await service.get_kb(session, principal.workspace_id, kb)
    found, total = await jobs.list_jobs(
        session, base, limit=asked.limit, offset=asked.offset, status=status.value if status else None
    )
    return asked.page([jobs.job_out(job) for job in found], total)


@router.get("/{kb}/jobs/{job_id}", response_model=JobOut)
async def get_job(
    workspace: str,
    kb: str,
    job_id: uuid.UUID,
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> JobOut:
    """A job's status, counters and per-item report."""
    base = await service.get_kb(session, principal.workspace_id, kb)
    return jobs.job_out(await jobs.get_job(session, base, job_id))


@router.post("/{kb}/jobs/{job_id}/retry", response_model=JobOut, status_code=202)
async def retry_job(
    workspace: str,
    kb: str,
    job_id: uuid.UUID,
    principal: Principal = Depends(can_write),
    session: AsyncSession = session_dep,
) -> JobOut:
    """Queues a failed job again (or one with failed items); finished items are kept."""
    base = await service.get_kb(session, principal.workspace_id, kb)
    return jobs.job_out(await jobs.retry_job(session, base, job_id))


@router.get("/{kb}/jobs/{job_id}/events")
async def job_events(
    workspace: str,
    kb: str,
    job_id: uuid.UUID,
    principal: Principal = Depends(can_read),
    ctx: AppContext = Depends(get_ctx),
) -> EventSourceResponse:
    """Server-sent events: `progress` (the job as JSON) on each change, then `done` or `failed`."""
    async with ctx.db.session() as session:  # a short session: the stream must not hold a connection
        base = await service.get_kb(session, principal.workspace_id, kb)
        await jobs.get_job(session, base, job_id)
    return EventSourceResponse(ingest_service.job_events(ctx.db, ctx.extras, base, job_id), ping=15)
