"""Runs one ingestion job: its items (staged uploads, crawled pages or repository files) through the pipeline.

The task `knowledge.ingest` (tasks.py) calls it once the job layer has claimed the job and the row was adopted.
Items flow through a bounded queue to `ingest_concurrency` consumers (back-pressure: a fast crawl waits for the
embedder). Each consumer sends a few versions at a time through the pipeline and records their outcomes in the job.
Items already in the job's report (from a run that crashed) are not redone.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import text

from opsdesk.app.context import AppContext
from opsdesk.core.errors import OpsdeskError
from opsdesk.core.logging import get_logger
from opsdesk.db.engine import Database
from opsdesk.knowledge.ingest import jobs
from opsdesk.knowledge.ingest.jobs import Lease, LeaseLost
from opsdesk.knowledge.ingest.pipeline import ItemOutcome, Pipeline, VersionRef
from opsdesk.knowledge.ingest.staging import Source, SourceFile, stage
from opsdesk.knowledge.models import IngestionJob, KnowledgeBase
from opsdesk.knowledge.sources.crawl import CrawledPage, crawl
from opsdesk.knowledge.sources.git import collect_git_files
from opsdesk.knowledge.sources.scope import PathFilter

_log = get_logger(__name__)
_BATCH_ITEMS = 16  # versions a consumer sends through the pipeline at once (their chunks embed together)
_QUIET_SKIPS = ("off-site link", "outside the crawl's paths", "already crawled")
_DONE = object()


class JobRunner:
    """Runs adopted jobs of one process; all share the pipeline's concurrency bound."""

    def __init__(self, ctx: AppContext, pipeline: Pipeline | None = None) -> None:
        self.ctx = ctx
        self.pipeline = pipeline or Pipeline(ctx)

    async def run(self, job: IngestionJob, lease: Lease) -> IngestionJob:
        """Runs the job to done or failed and returns the finished row.

        Raises LeaseLost when the run lost the job (cancelled, taken over, its knowledge base deleted) and
        OpsdeskError for a job that cannot run (an unknown kind); other exceptions are the job layer's to retry."""
        db = self.ctx.db
        run = _JobRun(self, job, lease)
        _log.info("ingest_job_started", job_id=str(job.id), kind=job.kind, attempt=lease.attempt)
        await run.execute()
        finished = await jobs.finish(db, lease, nothing_found=run.nothing_found)
        _log.info("ingest_job_finished", job_id=str(job.id), status=finished.status)
        if run.finished >= ANALYZE_AFTER_ITEMS:
            await _refresh_statistics(db)
        return finished


ANALYZE_AFTER_ITEMS = 200  # a job this large changes the chunk tables enough to mislead the query planner


async def _refresh_statistics(db: Database) -> None:
    """ANALYZE after a large job, so the next queries are planned on the new data rather than waiting for
    autovacuum (bench/ingest_under_load.py: hybrid queries right after loading 1,000 documents ran at p50 90 ms
    without it, 33 ms with it, 20 ms once autovacuum had also finished)."""
    try:
        async with db.background_session() as session:
            await session.execute(text("ANALYZE chunks, documents"))
    except Exception as exc:  # statistics are an optimisation; autovacuum will get there
        _log.warning("ingest_analyze_failed", error=f"{type(exc).__name__}: {exc}")


class _JobRun:
    def __init__(self, runner: JobRunner, job: IngestionJob, lease: Lease):
        self.ctx = runner.ctx
        self.pipeline = runner.pipeline
        self.job = job
        self.lease = lease
        self.done_keys = {entry["key"] for entry in job.report}
        self.total = job.total_items
        self.finished = len(job.report)
        self.failed = sum(1 for entry in job.report if entry.get("outcome") == "failed")
        self.nothing_found = "Nothing was ingested."

    async def execute(self) -> None:
        kind, params = self.job.kind, self.job.params
        if kind in ("upload", "api"):
            refs = [VersionRef(i["key"], uuid.UUID(i["version_id"])) for i in params.get("items", [])]
            await self._consume(self._from_list(refs))
        elif kind == "crawl":
            self.nothing_found = "The crawl found no page to ingest"
            await self._reset_total()
            await self._consume(self._from_crawl(params))
        elif kind == "git":
            scope = _paths(params)
            where = f" matching {scope.describe()}" if scope.narrows else ""
            self.nothing_found = f"The repository has no markdown, text or code files{where} to ingest."
            await self._consume(self._from_git(params))
        else:
            raise OpsdeskError(f"Unknown job kind '{kind}'.")

    async def _reset_total(self) -> None:
        # Pages fetched but not finished before a crash were counted; they are counted again when refetched.
        self.total = self.finished
        await jobs.set_total(self.ctx.db, self.lease, self.total)

    async def _record(self, outcomes: list[ItemOutcome], discovered: int = 0) -> None:
        await jobs.record(self.ctx.db, self.lease, outcomes, discovered=discovered)
        self.total += discovered
        self.finished += len(outcomes)
        self.failed += sum(1 for outcome in outcomes if outcome.outcome == "failed")

    async def _consume(self, items: AsyncIterator[VersionRef]) -> None:
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=_BATCH_ITEMS * 2)
        workers = max(1, self.ctx.settings.ingest_concurrency)
        try:
            # A failing consumer cancels the producer and the others (no producer blocked on a full queue).
            async with asyncio.TaskGroup() as group:
                for _ in range(workers):
                    group.create_task(self._consumer(queue))
                async for ref in items:
                    await queue.put(ref)
                for _ in range(workers):
                    await queue.put(_DONE)
        except BaseExceptionGroup as failures:
            raise failures.exceptions[0] from None

    async def _consumer(self, queue: asyncio.Queue[Any]) -> None:
        while True:
            batch: list[VersionRef] = []
            item = await queue.get()
            stop = item is _DONE
            if not stop:
                batch.append(item)
            while not stop and len(batch) < _BATCH_ITEMS and not queue.empty():
                item = queue.get_nowait()
                if item is _DONE:
                    stop = True
                else:
                    batch.append(item)
            if batch:
                await self._record(await self.pipeline.process(batch))
            if stop:
                return

    async def _from_list(self, refs: list[VersionRef]) -> AsyncIterator[VersionRef]:
        for ref in refs:
            if ref.key not in self.done_keys:
                yield ref

    async def _stage(self, source: Source, file: SourceFile) -> VersionRef | None:
        """Stages a fetched item in its own transaction; unchanged or refused items are recorded at once."""
        try:
            async with self.ctx.db.session() as session:
                kb = await session.get(KnowledgeBase, self.job.kb_id)
                if kb is None:
                    raise LeaseLost(str(self.job.id))  # the knowledge base (and this job) was deleted
                staged = await stage(session, kb, source, file)
        except OpsdeskError as exc:
            await self._record([ItemOutcome(file.key, "failed", exc.message)])
            return None
        if staged.outcome == "unchanged":
            report = staged.report()
            outcome = ItemOutcome(file.key, "unchanged", report["reason"], staged.document_id, staged.version)
            await self._record([outcome])
            return None
        return VersionRef(file.key, staged.version_id)

    async def _from_crawl(self, params: dict[str, Any]) -> AsyncIterator[VersionRef]:
        settings = self.ctx.settings
        tags = list(params.get("tags") or [])
        pages = crawl(
            params["url"],
            max_depth=params.get("max_depth") or settings.crawl_max_depth,
            max_pages=params.get("max_pages") or settings.crawl_max_pages,
            max_bytes_per_page=settings.crawl_max_bytes_per_page,
            timeout_s=settings.crawl_timeout_s,
            allow_private=settings.crawl_allow_private,
            allowed_hosts=list(params.get("allowed_hosts") or []),
            paths=_paths(params),
        )
        async for item in pages:
            if item.url in self.done_keys:
                continue
            self.done_keys.add(item.url)
            if not isinstance(item, CrawledPage):
                if not item.reason.startswith(_QUIET_SKIPS):
                    await self._record([ItemOutcome(item.url, "skipped", item.reason)], discovered=1)
                continue
            await self._record([], discovered=1)
            meta = {"url": item.url, "filename": item.filename, "depth": item.depth, "truncated": item.truncated}
            file = SourceFile(item.url, item.data, item.filename, item.content_type, tags, meta)
            ref = await self._stage("crawl", file)
            if ref is not None:
                yield ref

    async def _from_git(self, params: dict[str, Any]) -> AsyncIterator[VersionRef]:
        settings = self.ctx.settings
        source = str(params["source"])
        with tempfile.TemporaryDirectory(prefix="opsdesk-git-") as workdir:
            files = await asyncio.to_thread(
                collect_git_files,
                source,
                workdir=Path(workdir),
                allow_private=settings.crawl_allow_private,
                allow_local=bool(params.get("allow_local")),
                max_file_bytes=settings.max_upload_bytes,
                branch=params.get("branch"),
                paths=_paths(params),
            )
        todo = [file for file in files if file.path not in self.done_keys]
        await jobs.set_total(self.ctx.db, self.lease, self.finished + len(todo))
        self.total = self.finished + len(todo)
        tags = list(params.get("tags") or [])
        for file in todo:
            meta = {"repository": source, "commit": file.commit}
            if params.get("branch"):
                meta["branch"] = str(params["branch"])
            ref = await self._stage("git", SourceFile(file.path, file.data, file.path, None, tags, meta))
            if ref is not None:
                yield ref


def _paths(params: dict[str, Any]) -> PathFilter:
    """The job's path patterns (none in jobs queued before sources had them)."""
    return PathFilter(tuple(params.get("paths") or ()), tuple(params.get("exclude") or ()))
