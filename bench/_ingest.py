"""How the benchmarks put a corpus into a knowledge base: the real ingestion path, nothing special-cased.

Documents are staged and queued exactly as `POST …/documents:api` does (`ingest.service.queue_files`), then the
ingestion worker runs the jobs (`ingest.worker.run_pending_jobs`): extraction, chunking, batched embeddings, index
writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from opsdesk.app.context import AppContext
from opsdesk.knowledge.ingest.service import queue_files
from opsdesk.knowledge.ingest.staging import SourceFile
from opsdesk.knowledge.ingest.worker import run_pending_jobs
from opsdesk.knowledge.models import KnowledgeBase


@dataclass(frozen=True)
class CorpusDoc:
    key: str  # becomes the document's source_key
    title: str
    text: str
    tags: tuple[str, ...] = ()


def source_file(doc: CorpusDoc) -> SourceFile:
    """A corpus document as the JSON ingestion API turns it into a file: markdown with the title as its heading."""
    text = f"# {doc.title}\n\n{doc.text}\n" if doc.title else doc.text
    return SourceFile(doc.key, text.encode("utf-8"), doc.key + ".md", "text/markdown", list(doc.tags))


async def queue_corpus(ctx: AppContext, kb: KnowledgeBase, docs: Sequence[CorpusDoc], *, per_job: int = 500) -> int:
    """Stages the documents as jobs of `per_job` documents; returns the number of jobs."""
    count = 0
    for start in range(0, len(docs), per_job):
        async with ctx.db.session() as session:
            fresh = await session.get(KnowledgeBase, kb.id)
            assert fresh is not None
            await queue_files(session, fresh, [source_file(doc) for doc in docs[start : start + per_job]], source="api")
        count += 1
    return count


async def ingest_corpus(ctx: AppContext, kb: KnowledgeBase, docs: Sequence[CorpusDoc], *, per_job: int = 500) -> str:
    """Queues the corpus and runs the ingestion worker in this process until every job is done."""
    await queue_corpus(ctx, kb, docs, per_job=per_job)
    await run_pending_jobs(ctx)
    return "pipeline"
