"""The ingestion pipeline: staged versions → extract → chunk → batched embeddings → chunks → version ready.

Each version's chunks are written in one transaction together with its "ready" mark: delete that version's chunks,
insert them keyed by (version_id, ordinal), set the document's latest version, bump the knowledge base's content
version. Running a version twice (a retry, a resumed job) therefore never duplicates chunks. An extraction error
marks only that version (and a document without a ready version) failed with the error's message.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.app.context import AppContext
from opsdesk.core.logging import get_logger
from opsdesk.knowledge import semver
from opsdesk.knowledge.chunking import Chunk as TextChunk
from opsdesk.knowledge.chunking import chunk_document
from opsdesk.knowledge.extraction import ExtractedDocument, ExtractionError, ExtractionLimits, extract
from opsdesk.knowledge.models import Chunk, Document, DocumentVersion
from opsdesk.knowledge.service import bump_content_version

_log = get_logger(__name__)
_GROUP_BYTES = 16 * 1_048_576  # raw bytes held in memory per group of versions
_DELETED = "The document was deleted before it could be ingested."


@dataclass(frozen=True, slots=True)
class VersionRef:
    key: str
    version_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """What became of one item of a job."""

    key: str
    outcome: str  # ingested | unchanged | failed | skipped
    reason: str | None = None
    document_id: uuid.UUID | None = None
    version: str | None = None
    chunks: int | None = None

    def report(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"key": _text(self.key), "outcome": self.outcome}
        for name in ("reason", "version", "chunks"):
            value = getattr(self, name)
            if value is not None:
                entry[name] = _text(value) if isinstance(value, str) else value
        if self.document_id is not None:
            entry["document_id"] = str(self.document_id)
        return entry


@dataclass(slots=True)
class _Work:
    ref: VersionRef
    document_id: uuid.UUID
    version: str
    filename: str
    content_type: str | None
    data: bytes = b""
    extracted: ExtractedDocument | None = None
    chunks: Sequence[TextChunk] = ()
    embeddings: list[list[float]] | None = None
    error: str | None = None


class Pipeline:
    """Processes staged versions with bounded concurrency; one per worker (or CLI run)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        settings = ctx.settings
        self.limits = ExtractionLimits(max_bytes=settings.max_upload_bytes)
        self.max_tokens = settings.chunk_max_tokens
        self.overlap_tokens = settings.chunk_overlap_tokens
        self.embed_batch = max(1, settings.ingest_embed_batch)
        self.gate = asyncio.Semaphore(max(1, settings.ingest_concurrency))

    async def process(self, refs: Sequence[VersionRef]) -> list[ItemOutcome]:
        """Ingests the versions; returns one outcome per ref, in order. Extraction errors never raise."""
        outcomes: dict[uuid.UUID, ItemOutcome] = {}
        async with self.gate:
            work = await self._load(refs, outcomes)
            for group in _groups(work):
                await self._run_group(group, outcomes)
        return [outcomes[ref.version_id] for ref in refs]

    async def _load(
        self, refs: Sequence[VersionRef], outcomes: dict[uuid.UUID, ItemOutcome]
    ) -> list[tuple[_Work, int]]:
        ids = [ref.version_id for ref in refs]
        async with self.ctx.db.session() as session:
            rows = await session.execute(
                select(DocumentVersion, Document)
                .join(Document, Document.id == DocumentVersion.document_id)
                .where(DocumentVersion.id.in_(ids))
            )
            found = {version.id: (version, document) for version, document in rows}
            pending = [vid for vid, (version, _) in found.items() if version.status != "ready"]
            if pending:
                await session.execute(
                    update(DocumentVersion).where(DocumentVersion.id.in_(pending)).values(status="processing")
                )
        work: list[tuple[_Work, int]] = []
        for ref in refs:
            if ref.version_id not in found:
                outcomes[ref.version_id] = ItemOutcome(ref.key, "failed", _DELETED)
                continue
            version, document = found[ref.version_id]
            if version.status == "ready":
                outcomes[ref.version_id] = _ingested(ref, document.id, version.version, version.chunk_count)
                continue
            filename = str(document.meta.get("filename") or document.source_key)
            item = _Work(ref, document.id, version.version, filename, version.content_type)
            work.append((item, version.size_bytes))
        return work

    async def _run_group(self, group: list[_Work], outcomes: dict[uuid.UUID, ItemOutcome]) -> None:
        async with self.ctx.db.session() as session:
            contents = await session.execute(
                select(DocumentVersion.id, DocumentVersion.content).where(
                    DocumentVersion.id.in_([item.ref.version_id for item in group])
                )
            )
            data = dict(contents.all())
        for item in group:
            item.data = data.get(item.ref.version_id) or b""
        await asyncio.to_thread(self._prepare, group)
        await self._embed(group)
        try:
            results = await self._write_all(group)
        except Exception as exc:  # e.g. a deadlock with a concurrent re-upload: write each version on its own
            _log.warning("ingest_group_write_failed", error=f"{type(exc).__name__}: {exc}", items=len(group))
            results = [await self._write_alone(item) for item in group]
        for item, outcome in zip(group, results, strict=True):
            outcomes[item.ref.version_id] = outcome
            item.data, item.embeddings = b"", None

    def _prepare(self, group: list[_Work]) -> None:
        """Extraction and chunking (CPU-bound; runs in a worker thread)."""
        for item in group:
            try:
                item.extracted = extract(item.data, item.filename, item.content_type, self.limits)
                item.chunks = chunk_document(
                    item.extracted, max_tokens=self.max_tokens, overlap_tokens=self.overlap_tokens
                )
            except ExtractionError as exc:
                item.error = exc.message
            except Exception as exc:  # a bug or a hostile file must fail this item only, with a readable reason
                _log.exception("ingest_prepare_failed", key=item.ref.key)
                item.error = f"The file could not be processed ({type(exc).__name__})."
            if item.error is None and not item.chunks:
                item.error = "The file contains no text to index."

    async def _embed(self, group: list[_Work]) -> None:
        texts: list[str] = []
        for item in group:
            if item.error is None:
                texts.extend(_embedding_text(chunk) for chunk in item.chunks)
        vectors: list[list[float]] = []
        embedder = self.ctx.providers.ingest_embedder()
        try:
            for start in range(0, len(texts), self.embed_batch):
                vectors.extend(await embedder.embed(texts[start : start + self.embed_batch]))
                await asyncio.sleep(0)  # let queries in this process run between batches
        except Exception as exc:
            reason = f"Embedding failed: {getattr(exc, 'message', None) or exc}"
            for item in group:
                item.error = item.error or reason
            return
        position = 0
        for item in group:
            if item.error is None:
                item.embeddings = vectors[position : position + len(item.chunks)]
                position += len(item.chunks)

    async def _write_all(self, group: list[_Work]) -> list[ItemOutcome]:
        async with self.ctx.db.background_session() as session:
            results = await _write(session, group)
        return [results[item.ref.version_id] for item in group]

    async def _write_alone(self, item: _Work) -> ItemOutcome:
        try:
            async with self.ctx.db.background_session() as session:
                return (await _write(session, [item]))[item.ref.version_id]
        except Exception as exc:
            _log.exception("ingest_write_failed", key=item.ref.key)
            reason = f"Storing the chunks failed ({type(exc).__name__}); retry the job."
            return ItemOutcome(item.ref.key, "failed", reason)


def _groups(work: list[tuple[_Work, int]]) -> list[list[_Work]]:
    groups: list[list[_Work]] = []
    current: list[_Work] = []
    size = 0
    for item, item_size in work:
        if current and size + item_size > _GROUP_BYTES:
            groups.append(current)
            current, size = [], 0
        current.append(item)
        size += item_size
    if current:
        groups.append(current)
    return groups


def _text(value: str) -> str:
    """Text as PostgreSQL stores it: without NUL characters (a hostile file may carry them)."""
    return value.replace("\x00", "")


def _embedding_text(chunk: TextChunk) -> str:
    """The chunk's text, led by its section path when the text does not start with it (context for the vector)."""
    title = chunk.section_path.split(" > ", 1)[0]
    if chunk.section_path and not chunk.text.startswith(title):
        return f"{chunk.section_path}\n\n{chunk.text}"
    return chunk.text


def _ingested(ref: VersionRef, document_id: uuid.UUID, version: str, chunks: int) -> ItemOutcome:
    return ItemOutcome(ref.key, "ingested", document_id=document_id, version=version, chunks=chunks)


async def _write(session: AsyncSession, group: list[_Work]) -> dict[uuid.UUID, ItemOutcome]:
    """Stores the group's results in the caller's transaction; a few statements for the whole group."""
    # Locks in id order (documents, then versions), like staging, so concurrent writers cannot deadlock.
    documents = {
        document.id: document
        for document in await session.scalars(
            select(Document)
            .where(Document.id.in_(sorted({item.document_id for item in group})))
            .order_by(Document.id)
            .with_for_update()
        )
    }
    versions = {
        version.id: version
        for version in await session.scalars(
            select(DocumentVersion)
            .where(DocumentVersion.id.in_(sorted(item.ref.version_id for item in group)))
            .order_by(DocumentVersion.id)
            .with_for_update()
        )
    }
    results: dict[uuid.UUID, ItemOutcome] = {}
    todo: list[tuple[_Work, Document, DocumentVersion]] = []
    for item in group:
        document, version = documents.get(item.document_id), versions.get(item.ref.version_id)
        if document is None or version is None:
            results[item.ref.version_id] = ItemOutcome(item.ref.key, "failed", _DELETED)
        elif version.status == "ready":  # another run finished it meanwhile
            results[version.id] = _ingested(item.ref, document.id, version.version, version.chunk_count)
        else:
            todo.append((item, document, version))
    if not todo:
        return results
    await session.execute(delete(Chunk).where(Chunk.version_id.in_([version.id for _, _, version in todo])))
    rows = [row for item, document, version in todo for row in _chunk_rows(item, document, version)]
    if rows:
        await session.execute(insert(Chunk), rows)
    changed: set[uuid.UUID] = set()
    for item, document, version in todo:
        results[version.id] = _mark(item, document, version)
        if version.status == "ready":
            changed.add(document.kb_id)
    for kb_id in sorted(changed):
        await bump_content_version(session, kb_id)
    return results


def _chunk_rows(item: _Work, document: Document, version: DocumentVersion) -> list[dict[str, Any]]:
    if item.error is not None or item.embeddings is None:
        return []
    return [
        {
            "id": uuid.uuid4(),
            "workspace_id": document.workspace_id,
            "kb_id": document.kb_id,
            "document_id": document.id,
            "version_id": version.id,
            "ordinal": chunk.ordinal,
            "text": _text(chunk.text),
            "section_path": _text(chunk.section_path),
            "page": chunk.page,
            "token_count": chunk.token_count,
            "content_hash": chunk.content_hash,
            "embedding": vector,
        }
        for chunk, vector in zip(item.chunks, item.embeddings, strict=True)
    ]


def _mark(item: _Work, document: Document, version: DocumentVersion) -> ItemOutcome:
    """Sets the version (and the document, when this version is its newest) ready or failed."""
    ref = item.ref
    if item.error is not None or item.extracted is None or item.embeddings is None:
        reason = _text(item.error or "The file could not be processed.")
        version.status, version.error, version.chunk_count = "failed", reason, 0
        if document.latest_version_id is None:
            document.status, document.error = "failed", reason
        else:
            document.error = f"{version.version} failed: {reason}"
        return ItemOutcome(ref.key, "failed", reason, document_id=document.id, version=version.version)
    version.status, version.error, version.chunk_count = "ready", None, len(item.chunks)
    number = (version.major, version.minor, version.patch)
    if document.latest_version is None or number >= semver.parse(document.latest_version):
        document.latest_version_id, document.latest_version = version.id, version.version
        document.status, document.error = "ready", None
        document.title = _text(item.extracted.title)[:500] or document.title
        document.doc_type = item.extracted.doc_type
        document.meta = {**document.meta, **{_text(k): _text(v) for k, v in item.extracted.metadata.items()}}
    return _ingested(ref, document.id, version.version, len(item.chunks))
