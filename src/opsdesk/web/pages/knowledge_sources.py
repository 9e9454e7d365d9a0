"""A knowledge base's crawl and git sources: each with its last sync (status, counts, the documents it gave), adding a
web crawl or a git repository, and syncing one again — the ingestion API's services (`queue_crawl`, `queue_git`).

A source is not a table of its own: it is what its ingestion jobs were asked to read (a crawl's start URL, a
repository's URL), and its newest job is its last sync, whose scope (a branch, path patterns, other hosts) is the
source's. Syncing queues a new job with the same parameters; the repository's and the crawl's own rules (http(s)
only, private addresses refused, local paths only from the CLI) apply to the console exactly as to the API.
"""

from __future__ import annotations

import urllib.parse
import uuid
from typing import Any

from fastapi import Form, Query
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from opsdesk.core.errors import Conflict, InvalidInput, NotFound
from opsdesk.knowledge import service as knowledge
from opsdesk.knowledge.ingest import jobs
from opsdesk.knowledge.ingest import service as ingest
from opsdesk.knowledge.ingest.schemas import CrawlIngest, GitIngest, JobOut
from opsdesk.knowledge.models import IngestionJob, KnowledgeBase
from opsdesk.knowledge.sources.fetch import site_of
from opsdesk.web.console import Console, PageConsole, page_router
from opsdesk.web.templating import render, render_fragment

router = page_router()
SOURCE_KINDS = ("crawl", "git")
MAX_SOURCES = 200
DOCUMENTS_SHOWN = 50
DONE = {"added": "Source added; its first sync is queued.", "synced": "Sync queued."}
_LIST_CHARS = 5_000  # comma-separated hosts or path patterns in one form field


def _back(kb: str, done: str) -> Response:
    return RedirectResponse(f"/knowledge/{urllib.parse.quote(kb, safe='')}/sources?done={done}", status_code=303)


def _location(job: IngestionJob) -> str:
    return str(job.params.get("url") or job.params.get("source") or "")


async def _latest_syncs(db: AsyncSession, kb: KnowledgeBase) -> list[tuple[IngestionJob, int]]:
    """Each source's newest job and how many syncs it has had, newest source activity first."""
    location = func.coalesce(IngestionJob.params["url"].astext, IngestionJob.params["source"].astext)
    mine = (
        (IngestionJob.kb_id == kb.id)
        & (IngestionJob.workspace_id == kb.workspace_id)
        & IngestionJob.kind.in_(SOURCE_KINDS)
    )
    newest = (
        select(IngestionJob)
        .where(mine)
        .distinct(IngestionJob.kind, location)
        .order_by(IngestionJob.kind, location, IngestionJob.created_at.desc())
    )
    found = list(await db.scalars(newest))
    per_source = select(IngestionJob.kind, location, func.count()).where(mine).group_by(IngestionJob.kind, location)
    counts = {(kind, where): int(count) for kind, where, count in await db.execute(per_source)}
    found.sort(key=lambda job: job.created_at, reverse=True)
    return [(job, counts.get((job.kind, _location(job)), 1)) for job in found[:MAX_SOURCES]]


def _source(job: IngestionJob, syncs: int) -> dict[str, Any]:
    out: JobOut = jobs.job_out(job)
    params = job.params
    local = bool(params.get("allow_local"))
    documents = [
        {"key": item.key, "id": item.document_id, "outcome": item.outcome}
        for item in out.report
        if item.document_id is not None and item.outcome in ("ingested", "unchanged")
    ]
    allowed_hosts = list(params.get("allowed_hosts") or [])
    return {
        "id": job.id,
        "kind": job.kind,
        "location": _location(job),
        "allowed_hosts": [site_of(_location(job)), *allowed_hosts] if job.kind == "crawl" else [],
        "max_depth": params.get("max_depth"),
        "max_pages": params.get("max_pages"),
        "branch": params.get("branch"),
        "paths": list(params.get("paths") or []),
        "exclude": list(params.get("exclude") or []),
        "tags": list(params.get("tags") or []),
        "from_cli": local,  # a path on the server's disk: only `opsdesk ingest` may read it again
        "syncs": syncs,
        "last_sync": out,
        "running": out.status.value in ("queued", "running"),
        "documents": documents[:DOCUMENTS_SHOWN],
        "documents_total": len(documents),
    }


async def _page(c: Console, kb: str) -> dict[str, Any]:
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        base = await knowledge.get_kb(db, principal.workspace_id, kb)
        sources = [_source(job, syncs) for job, syncs in await _latest_syncs(db, base)]
    settings = c.ctx.settings
    return {
        "kb": {"name": base.name},
        "sources": sources,
        "defaults": {"max_depth": settings.crawl_max_depth, "max_pages": settings.crawl_max_pages},
        "flash": DONE.get(c.request.query_params.get("done", ""), ""),
    }


@router.get("/knowledge/{kb}/sources")
async def sources_page(kb: str, part: str = Query("", pattern="^(table)?$"), c: Console = PageConsole) -> Response:
    """The sources with their last sync, and the forms that add one (`part=table`: only the table, for htmx)."""
    data = await _page(c, kb)
    if part and c.request.headers.get("hx-request"):
        return render_fragment(c, "knowledge_sources_table.html", data)
    return render(c, "knowledge_sources.html", data)


def _invalid(exc: ValidationError, what: str) -> InvalidInput:
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"]) or what
    return InvalidInput(f"The {what} cannot be used: {field}: {error['msg']}", code="invalid_value")


def _number(value: str, what: str) -> int | None:
    if not value.strip():
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"The {what} must be a whole number.", code="invalid_value") from None


def _tags(value: str) -> list[str]:
    return [tag.strip()[:64] for tag in value.split(",") if tag.strip()]


def _list(value: str) -> list[str]:
    """Comma-separated patterns or hosts, as typed (the request's schema checks and limits them)."""
    return [item.strip() for item in value.split(",") if item.strip()]


@router.post("/knowledge/{kb}/sources/crawl")
async def add_crawl(
    kb: str,
    url: str = Form(..., min_length=1, max_length=2048),
    max_depth: str = Form("", max_length=10),
    max_pages: str = Form("", max_length=10),
    tags: str = Form("", max_length=1000),
    allowed_hosts: str = Form("", max_length=_LIST_CHARS),
    paths: str = Form("", max_length=_LIST_CHARS),
    exclude: str = Form("", max_length=_LIST_CHARS),
    c: Console = PageConsole,
) -> Response:
    """A web crawl from a start URL (as POST …/ingest with `kind: crawl`), optionally onto other hosts and narrowed to
    URL paths; a private or malformed URL or host is refused."""
    principal = c.signed_in_principal
    try:
        request = CrawlIngest(
            kind="crawl",
            url=url.strip(),
            max_depth=_number(max_depth, "depth"),
            max_pages=_number(max_pages, "page limit"),
            tags=_tags(tags),
            allowed_hosts=_list(allowed_hosts),
            paths=_list(paths),
            exclude=_list(exclude),
        )
    except ValidationError as exc:
        raise _invalid(exc, "crawl") from None
    async with c.ctx.db.session() as db:
        base = await knowledge.get_kb(db, principal.workspace_id, kb)
        await ingest.queue_crawl(db, c.ctx.settings, base, request)
    return _back(base.name, "added")


@router.post("/knowledge/{kb}/sources/git")
async def add_git(
    kb: str,
    url: str = Form(..., min_length=1, max_length=2048),
    tags: str = Form("", max_length=1000),
    branch: str = Form("", max_length=300),
    paths: str = Form("", max_length=_LIST_CHARS),
    exclude: str = Form("", max_length=_LIST_CHARS),
    c: Console = PageConsole,
) -> Response:
    """A git repository by http(s) URL (as POST …/ingest with `kind: git`): the text and code of its default branch
    or of `branch`, optionally narrowed to path patterns."""
    principal = c.signed_in_principal
    try:
        request = GitIngest(
            kind="git",
            source=url.strip(),
            tags=_tags(tags),
            branch=branch.strip() or None,
            paths=_list(paths),
            exclude=_list(exclude),
        )
    except ValidationError as exc:
        raise _invalid(exc, "repository") from None
    async with c.ctx.db.session() as db:
        base = await knowledge.get_kb(db, principal.workspace_id, kb)
        await ingest.queue_git(db, c.ctx.settings, base, request)
    return _back(base.name, "added")


@router.post("/knowledge/{kb}/sources/{job_id}/sync")
async def sync_source(kb: str, job_id: uuid.UUID, c: Console = PageConsole) -> Response:
    """Syncs a source again: a new job with its last sync's parameters (refused while one is still running)."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        base = await knowledge.get_kb(db, principal.workspace_id, kb)
        last = await jobs.get_job(db, base, job_id)
        if last.kind not in SOURCE_KINDS:
            raise NotFound("That job is not a crawl or git sync.", code="source_not_found")
        newest = await _newest_job(db, base, last)
        if newest.status in ("queued", "running"):
            raise Conflict("This source is being synced now; wait until that sync has finished.", code="sync_running")
        params = newest.params
        tags = list(params.get("tags") or [])
        scope = {"paths": list(params.get("paths") or []), "exclude": list(params.get("exclude") or [])}
        if newest.kind == "crawl":
            crawl = CrawlIngest(
                kind="crawl",
                url=params["url"],
                max_depth=params.get("max_depth"),
                max_pages=params.get("max_pages"),
                tags=tags,
                allowed_hosts=list(params.get("allowed_hosts") or []),
                **scope,
            )
            await ingest.queue_crawl(db, c.ctx.settings, base, crawl)
        else:  # a path from the CLI is refused here as it is over the API (queue_git without allow_local)
            git = GitIngest(kind="git", source=params["source"], tags=tags, branch=params.get("branch"), **scope)
            await ingest.queue_git(db, c.ctx.settings, base, git)
    return _back(base.name, "synced")


async def _newest_job(db: AsyncSession, kb: KnowledgeBase, job: IngestionJob) -> IngestionJob:
    """The source's newest job (the form may name an older one when two tabs are open)."""
    key = "url" if job.kind == "crawl" else "source"
    newest = await db.scalar(
        select(IngestionJob)
        .where(
            IngestionJob.kb_id == kb.id,
            IngestionJob.workspace_id == kb.workspace_id,
            IngestionJob.kind == job.kind,
            IngestionJob.params[key].astext == _location(job),
        )
        .order_by(IngestionJob.created_at.desc())
        .limit(1)
    )
    return newest or job
