"""Accepting ingestion requests: check them, stage what arrived, and queue the job in the same transaction.

An upload's bytes are stored as document versions in the transaction that creates its job, so once the caller has
the job id the upload is durable; the worker only ever reads from the database.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.errors import InvalidInput, NotFound, PayloadTooLarge
from opsdesk.core.settings import Settings
from opsdesk.db.engine import Database
from opsdesk.db.notify import notifications
from opsdesk.knowledge.ingest import jobs
from opsdesk.knowledge.ingest.schemas import ApiIngest, CrawlIngest, GitIngest, JobOut
from opsdesk.knowledge.ingest.staging import Source, SourceFile, check_supported, stage_many
from opsdesk.knowledge.models import IngestionJob, KnowledgeBase
from opsdesk.knowledge.service import require_active
from opsdesk.knowledge.sources.urls import InvalidUrl, validate_url_async

_FALLBACK_POLL_S = 10.0  # the change notice wakes a job's stream; this only covers notices lost


def clean_key(filename: str) -> str:
    """A file name as a document key: forward slashes, no leading slash, no `.` or `..` parts."""
    if "\x00" in filename:
        raise InvalidInput("A file name must not contain NUL characters.", code="invalid_filename")
    parts = [part for part in filename.replace("\\", "/").split("/") if part not in ("", ".", "..")]
    key = "/".join(parts)
    if not key:
        raise InvalidInput("Every uploaded file needs a file name.", code="missing_filename")
    if len(key) > 2048:
        raise InvalidInput(f"The file name '{key[:60]}…' is longer than 2048 characters.", code="filename_too_long")
    return key


def check_upload(files: Sequence[SourceFile], settings: Settings) -> None:
    """Size, duplicate names and supported types, before anything is stored (413, 400 or 415 naming the file)."""
    if not files:
        raise InvalidInput("Send at least one file in the multipart field 'files'.", code="no_files")
    seen: set[str] = set()
    for file in files:
        if len(file.data) > settings.max_upload_bytes:
            raise PayloadTooLarge(
                f"'{file.filename}' is {len(file.data):,} bytes, more than the upload limit of "
                f"{settings.max_upload_bytes:,} bytes.",
                code="file_too_large",
            )
        if file.key in seen:
            raise InvalidInput(f"The upload holds '{file.key}' twice.", code="duplicate_file")
        seen.add(file.key)
        check_supported(file.filename, file.data, file.content_type)


async def queue_files(
    session: AsyncSession, kb: KnowledgeBase, files: Sequence[SourceFile], *, source: Source = "upload"
) -> IngestionJob:
    """Stages the files as new versions and queues their job, all in the caller's transaction."""
    require_active(kb)
    staged = await stage_many(session, kb, source, files)
    return await jobs.create_job(session, kb, "upload" if source == "upload" else "api", {"source": source}, staged)


def api_files(request: ApiIngest) -> list[SourceFile]:
    """Documents sent as JSON become markdown files; a title becomes their top heading."""
    files: list[SourceFile] = []
    seen: set[str] = set()
    for document in request.documents:
        if document.key in seen:
            raise InvalidInput(f"The request holds the key '{document.key}' twice.", code="duplicate_key")
        seen.add(document.key)
        text = document.text
        if document.title and not text.lstrip().startswith("#"):
            text = f"# {document.title}\n\n{text}"
        data = text.encode("utf-8")
        files.append(SourceFile(document.key, data, document.key, "text/markdown", document.tags, {}, document.version))
    return files


async def queue_crawl(
    session: AsyncSession, settings: Settings, kb: KnowledgeBase, request: CrawlIngest
) -> IngestionJob:
    """Refuses a malformed or private start URL, or a private allowed host, at once (400); otherwise queues the
    crawl. Its scope (allowed hosts, paths) is stored with the job, so a retry or a sync reads the same pages."""
    require_active(kb)
    url = await validate_url_async(request.url, allow_private=settings.crawl_allow_private)
    for host in request.allowed_hosts:  # the crawl checks every address again when it connects
        await validate_url_async(
            f"http://[{host}]/" if ":" in host else f"http://{host}/", allow_private=settings.crawl_allow_private
        )
    params: dict[str, Any] = {"url": url, "tags": request.tags}
    if request.max_depth is not None:
        params["max_depth"] = request.max_depth
    if request.max_pages is not None:
        params["max_pages"] = request.max_pages
    params.update(_scope(allowed_hosts=request.allowed_hosts, paths=request.paths, exclude=request.exclude))
    return await jobs.create_job(session, kb, "crawl", params)


def _scope(**fields: Any) -> dict[str, Any]:
    """The scope fields that narrow a source, leaving out those not given (older jobs have none)."""
    return {name: value for name, value in fields.items() if value}


async def queue_git(
    session: AsyncSession, settings: Settings, kb: KnowledgeBase, request: GitIngest, *, allow_local: bool = False
) -> IngestionJob:
    """A repository by http(s) URL (or, with `allow_local`, for the CLI, a path on this machine), with the branch and
    path patterns to read stored in the job."""
    require_active(kb)
    source = request.source.strip()
    if not allow_local:
        scheme = urlsplit(source).scheme.lower() if "://" in source else ""
        if scheme not in ("http", "https"):
            raise InvalidUrl(
                f"'{source}' is not an http(s) repository URL; only http(s) URLs can be ingested over the API.",
                code="invalid_git_source",
            )
        source = await validate_url_async(source, allow_private=settings.crawl_allow_private)
    params: dict[str, Any] = {"source": source, "tags": request.tags}
    params.update(_scope(branch=request.branch, paths=request.paths, exclude=request.exclude))
    if allow_local:
        params["allow_local"] = True
    return await jobs.create_job(session, kb, "git", params)


async def job_events(
    db: Database, extras: dict[str, Any], kb: KnowledgeBase, job_id: Any
) -> AsyncIterator[dict[str, str]]:
    """Server-sent events of a job: `progress` on every change, then one `done` or `failed`, then the end. The stream
    wakes on the job's change notice (every write of its row sends one at commit, whichever process wrote it), with
    a slow poll besides for notices lost with a connection; `extras` (the app context's) keeps the process's one
    listening connection."""
    last: tuple[Any, ...] | None = None
    listener = notifications(extras, db.url)
    async with listener.watch(jobs.CHANNEL, str(job_id)) as watch:
        while True:
            try:
                async with db.session() as session:
                    out: JobOut = jobs.job_out(await jobs.get_job(session, kb, job_id))
            except NotFound as exc:  # deleted with its knowledge base while someone watched
                yield {"event": "error", "data": json.dumps({"message": exc.message})}
                return
            state = (out.status, out.total_items, out.done_items, out.failed_items, out.skipped_items, out.attempts)
            if out.status in ("done", "failed"):
                yield {"event": out.status.value, "data": out.model_dump_json()}
                return
            if state != last:
                yield {"event": "progress", "data": out.model_dump_json()}
                last = state
            await listener.listen(jobs.CHANNEL)  # again after a lost connection
            await watch.wait(_FALLBACK_POLL_S)
