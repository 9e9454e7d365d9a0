"""Staging: raw bytes become a document version (status queued) before any processing, so nothing acknowledged is lost.

A new upload of a source key with the same content as its newest version is "unchanged" and creates nothing; other
content gets the next version (a patch bump, or the caller's greater version).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.errors import InvalidInput
from opsdesk.knowledge import semver
from opsdesk.knowledge.extraction import ExtractionError, UnsupportedDocument, detect_type
from opsdesk.knowledge.extraction.detect import file_extension
from opsdesk.knowledge.extraction.text import title_from_filename
from opsdesk.knowledge.models import Document, DocumentVersion, KnowledgeBase

Source = Literal["upload", "crawl", "git", "api"]


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One document's raw bytes as it arrived, with what identifies it in its knowledge base."""

    key: str
    data: bytes
    filename: str
    content_type: str | None = None
    tags: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    version: str | None = None


@dataclass(frozen=True, slots=True)
class Staged:
    """Where a staged file went: a queued version to process, or "unchanged" when its content is already there."""

    key: str
    outcome: Literal["queued", "unchanged"]
    document_id: uuid.UUID
    version_id: uuid.UUID
    version: str

    def item(self) -> dict[str, str]:
        """The job's record of a queued item."""
        return {"key": self.key, "version_id": str(self.version_id)}

    def report(self) -> dict[str, Any]:
        """The job report entry of an unchanged item."""
        return {
            "key": self.key,
            "outcome": "unchanged",
            "reason": f"same content as {self.version}",
            "document_id": str(self.document_id),
            "version": self.version,
        }


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_supported(filename: str, data: bytes, content_type: str | None) -> None:
    """Refuses at once a file whose type opsdesk never reads (415 naming the file and its type)."""
    try:
        detect_type(data, filename, content_type)
    except UnsupportedDocument as exc:
        raise UnsupportedDocument(f"'{filename}': {exc.message}") from exc
    except ExtractionError:
        return  # a damaged file of a supported type is the job's to report, on its document


def _guess_type(file: SourceFile) -> str:
    try:
        return detect_type(file.data, file.filename, file.content_type)
    except ExtractionError:
        return (file_extension(file.filename) or "unknown")[:20]


_BATCH = 1000  # files per statement (PostgreSQL allows 32,767 bound parameters)


async def stage(session: AsyncSession, kb: KnowledgeBase, source: Source, file: SourceFile) -> Staged:
    """Stores the file as the document's next version (queued), or reports it unchanged."""
    return (await stage_many(session, kb, source, [file]))[0]


async def stage_many(
    session: AsyncSession, kb: KnowledgeBase, source: Source, files: Sequence[SourceFile]
) -> list[Staged]:
    """`stage` for many files (distinct keys) in a few statements; results in the files' order."""
    keys = [file.key for file in files]
    if len(set(keys)) != len(keys):
        twice = next(key for key in keys if keys.count(key) > 1)
        raise InvalidInput(f"The request holds '{twice}' twice.", code="duplicate_key")
    for file in files:
        if file.version is not None:
            semver.parse(file.version)  # a malformed version is refused before anything is written
    staged: list[Staged] = []
    for start in range(0, len(files), _BATCH):
        staged.extend(await _stage_batch(session, kb, source, files[start : start + _BATCH]))
    return staged


async def _stage_batch(
    session: AsyncSession, kb: KnowledgeBase, source: Source, files: Sequence[SourceFile]
) -> list[Staged]:
    documents = await _documents_for_update(session, kb, source, files)
    newest = await _newest_versions(session, [document.id for document in documents.values()])
    staged: list[Staged] = []
    for file in files:
        document = documents[file.key]
        if file.tags:
            document.tags = list(file.tags)
        if file.meta:
            document.meta = {**document.meta, **file.meta}
        staged.append(_next_version(session, kb, document, newest.get(document.id), file))
    await session.flush()
    return staged


async def _documents_for_update(
    session: AsyncSession, kb: KnowledgeBase, source: Source, files: Sequence[SourceFile]
) -> dict[str, Document]:
    rows = [
        {
            "id": uuid.uuid4(),
            "workspace_id": kb.workspace_id,
            "kb_id": kb.id,
            "source_key": file.key,
            "title": title_from_filename(file.filename)[:500],
            "source": source,
            "doc_type": _guess_type(file),
            "tags": file.tags,
            "meta": file.meta,
            "status": "pending",
        }
        for file in files
    ]
    # Two uploads of one new key at once: one inserts, the other finds it; then the row locks (taken in id order,
    # like the pipeline's) order their versions.
    await session.execute(insert(Document).values(rows).on_conflict_do_nothing(constraint="uq_documents_kb_source_key"))
    found = await session.scalars(
        select(Document)
        .where(Document.kb_id == kb.id, Document.source_key.in_([file.key for file in files]))
        .order_by(Document.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {document.source_key: document for document in found}


async def _newest_versions(session: AsyncSession, document_ids: list[uuid.UUID]) -> dict[uuid.UUID, DocumentVersion]:
    found = await session.scalars(
        select(DocumentVersion)
        .where(DocumentVersion.document_id.in_(document_ids))
        .distinct(DocumentVersion.document_id)
        .order_by(
            DocumentVersion.document_id,
            DocumentVersion.major.desc(),
            DocumentVersion.minor.desc(),
            DocumentVersion.patch.desc(),
        )
    )
    return {version.document_id: version for version in found}


def _next_version(
    session: AsyncSession, kb: KnowledgeBase, document: Document, newest: DocumentVersion | None, file: SourceFile
) -> Staged:
    digest = content_hash(file.data)
    if newest is not None and newest.content_hash == digest:
        if newest.status == "ready":
            return Staged(file.key, "unchanged", document.id, newest.id, newest.version)
        # Same bytes whose processing failed or never finished: process that version again rather than add one.
        newest.status, newest.error = "queued", None
        return Staged(file.key, "queued", document.id, newest.id, newest.version)
    latest = (newest.major, newest.minor, newest.patch) if newest is not None else None
    number = semver.choose(latest, file.version, file.key)
    version = DocumentVersion(
        id=uuid.uuid4(),
        workspace_id=kb.workspace_id,
        document_id=document.id,
        version=semver.render(number),
        major=number[0],
        minor=number[1],
        patch=number[2],
        content_hash=digest,
        size_bytes=len(file.data),
        content_type=(file.content_type or "").replace("\x00", "")[:200] or None,
        content=file.data,
        status="queued",
        chunk_count=0,
    )
    session.add(version)
    return Staged(file.key, "queued", document.id, version.id, version.version)
