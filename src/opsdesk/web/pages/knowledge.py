"""Knowledge: the workspace's knowledge bases and their documents, a new base, and uploads (dropped or picked files)
whose progress bars follow each ingestion job's server-sent events."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import File, Form, Query, UploadFile
from pydantic import ValidationError
from sse_starlette import EventSourceResponse
from starlette.responses import RedirectResponse, Response

from opsdesk.core.errors import InvalidInput
from opsdesk.core.uploads import read_upload
from opsdesk.knowledge import service as knowledge
from opsdesk.knowledge.ingest import jobs
from opsdesk.knowledge.ingest import service as ingest
from opsdesk.knowledge.ingest.staging import SourceFile
from opsdesk.knowledge.schemas import KnowledgeBaseIn
from opsdesk.web.console import Console, PageConsole, page_router
from opsdesk.web.templating import render, render_fragment

router = page_router()
_PAGE = 100
FINISHED = ("done", "failed")


def _document(document: Any) -> dict[str, Any]:
    return {
        "id": document.id,
        "key": document.source_key,
        "title": document.title,
        "status": document.status,
        "version": document.latest_version,
        "error": document.error,
        "updated_at": document.updated_at,
    }


async def _page(c: Console, kb_name: str | None) -> dict[str, Any]:
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        bases, total = await knowledge.list_kbs(db, principal.workspace_id, limit=_PAGE, offset=0)
        selected = None
        documents: list[dict[str, Any]] = []
        document_total = 0
        if kb_name is not None:
            kb = await knowledge.get_kb(db, principal.workspace_id, kb_name)
            found, document_total = await knowledge.list_documents(db, kb, limit=_PAGE, offset=0)
            documents = [_document(d) for d in found]
            selected = {"id": kb.id, "name": kb.name, "description": kb.description, "status": kb.status}
    return {
        "bases": [{"id": kb.id, "name": kb.name, "description": kb.description, "status": kb.status} for kb in bases],
        "bases_total": total,
        "selected": selected,
        "documents": documents,
        "documents_total": document_total,
        "flash": "The document was deleted." if c.request.query_params.get("done") == "deleted" else "",
        "upload_limit_bytes": c.ctx.settings.max_upload_bytes,
        "upload_limit_mb": f"{c.ctx.settings.max_upload_bytes / 1_048_576:.3g}",
    }


@router.get("/knowledge")
async def knowledge_page(c: Console = PageConsole) -> Response:
    """Every knowledge base; the first one opened."""
    data = await _page(c, None)
    if data["bases"]:
        return RedirectResponse(f"/knowledge/{data['bases'][0]['name']}", status_code=303)
    return render(c, "knowledge.html", data)


@router.get("/knowledge/{kb}")
async def knowledge_base_page(
    kb: str, part: str = Query("", pattern="^(documents)?$"), c: Console = PageConsole
) -> Response:
    """One knowledge base: its documents and the upload form (`part=documents`: only the documents, for htmx)."""
    data = await _page(c, kb)
    if part and c.request.headers.get("hx-request"):
        return render_fragment(c, "knowledge_documents_table.html", data)
    return render(c, "knowledge.html", data)


@router.post("/knowledge")
async def create_base(
    name: str = Form(..., max_length=100), description: str = Form("", max_length=10_000), c: Console = PageConsole
) -> Response:
    """A new knowledge base (the same rules as POST …/knowledge-bases)."""
    principal = c.signed_in_principal
    try:
        spec = KnowledgeBaseIn(name=name, description=description)
    except ValidationError as exc:
        raise InvalidInput(f"That name cannot be used: {exc.errors()[0]['msg']}", code="invalid_name") from None
    async with c.ctx.db.session() as db:
        kb = await knowledge.create_kb(db, principal.workspace_id, spec)
        target = f"/knowledge/{kb.name}"
    return RedirectResponse(target, status_code=303)


@router.post("/knowledge/{kb}/documents")
async def upload(kb: str, files: list[UploadFile] = File(...), c: Console = PageConsole) -> Response:
    """Stores the files and queues their ingestion; answers with a progress bar that follows the job."""
    principal = c.signed_in_principal
    limit = c.ctx.settings.max_upload_bytes
    sources: list[SourceFile] = []
    for file in files:
        key = ingest.clean_key(file.filename or "")
        content = await read_upload(file, limit, what=f"'{key}'")
        sources.append(SourceFile(key, content, key, file.content_type, [], {"filename": key}, None))
    ingest.check_upload(sources, c.ctx.settings)
    async with c.ctx.db.session() as db:
        base = await knowledge.get_kb(db, principal.workspace_id, kb)
        job = jobs.job_out(await ingest.queue_files(db, base, sources))
    data = {"kb": base.name, "job": job}
    if c.request.headers.get("hx-request"):
        response = render_fragment(c, "knowledge_job.html", data, status=202)
        if job.status.value in FINISHED:  # every file was unchanged: no stream to follow, the documents may refresh
            response.headers["HX-Trigger"] = "job-finished"
        return response
    return RedirectResponse(f"/knowledge/{base.name}/jobs/{job.id}", status_code=303)


@router.get("/knowledge/{kb}/jobs/{job_id}")
async def job_progress(kb: str, job_id: uuid.UUID, c: Console = PageConsole) -> Response:
    """The job's progress: a fragment (htmx) or a page whose bar follows the job's events until it is finished."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        base = await knowledge.get_kb(db, principal.workspace_id, kb)
        job = jobs.job_out(await jobs.get_job(db, base, job_id))
    data = {"kb": base.name, "job": job}
    if c.request.headers.get("hx-request"):
        return render_fragment(c, "knowledge_job.html", data)
    return render(c, "knowledge_job_page.html", data)


@router.get("/knowledge/{kb}/jobs/{job_id}/events")
async def job_events(kb: str, job_id: uuid.UUID, c: Console = PageConsole) -> EventSourceResponse:
    """The job's server-sent events for the page's EventSource, signed in by the session cookie (the API's stream
    wants a bearer token the page does not hold): `progress` (the job as JSON) on each change, then `done` or
    `failed` — the API's own generator."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:  # a short session: the stream must not hold a connection
        base = await knowledge.get_kb(db, principal.workspace_id, kb)
        await jobs.get_job(db, base, job_id)
    return EventSourceResponse(ingest.job_events(c.ctx.db, c.ctx.extras, base, job_id), ping=15)
