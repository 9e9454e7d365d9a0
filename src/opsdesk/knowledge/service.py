"""Knowledge bases, documents and their versions: the rules, with the session passed in by the caller."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.errors import Conflict, InvalidInput, NotFound
from opsdesk.knowledge import semver
from opsdesk.knowledge.models import Chunk, Document, DocumentVersion, KnowledgeBase
from opsdesk.knowledge.schemas import KnowledgeBaseIn, KnowledgeBaseUpdate

_MAX_DEPTH = 32  # parent chains longer than this are refused; they also stop a runaway walk


def _as_uuid(value: str | uuid.UUID) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def _page(session: AsyncSession, query: Select[Any], limit: int, offset: int) -> tuple[list[Any], int]:
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = (await session.scalars(query.limit(limit).offset(offset))).all()
    return list(rows), total


# --- knowledge bases ---------------------------------------------------------------------------------------------


async def get_kb(session: AsyncSession, workspace_id: uuid.UUID, name_or_id: str | uuid.UUID) -> KnowledgeBase:
    """The workspace's knowledge base by name or id; NotFound for anything else (another workspace's included)."""
    kb_id = _as_uuid(name_or_id)
    column = KnowledgeBase.id if kb_id is not None else KnowledgeBase.name
    kb = await session.scalar(
        select(KnowledgeBase).where(KnowledgeBase.workspace_id == workspace_id, column == (kb_id or name_or_id))
    )
    if kb is None:
        raise NotFound(f"No knowledge base '{name_or_id}' in this workspace.", code="kb_not_found")
    return kb


async def list_kbs(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    limit: int,
    offset: int,
    status: str | None = None,
    tag: str | None = None,
    name_prefix: str | None = None,
    parent_id: uuid.UUID | None = None,
) -> tuple[list[KnowledgeBase], int]:
    query = select(KnowledgeBase).where(KnowledgeBase.workspace_id == workspace_id)
    if status:
        query = query.where(KnowledgeBase.status == status)
    if tag:
        query = query.where(KnowledgeBase.tags.contains([tag]))
    if name_prefix:
        escaped = name_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(KnowledgeBase.name.like(f"{escaped}%", escape="\\"))
    if parent_id is not None:
        query = query.where(KnowledgeBase.parent_id == parent_id)
    return await _page(session, query.order_by(KnowledgeBase.name), limit, offset)


async def _check_parent(
    session: AsyncSession, kb: KnowledgeBase | None, workspace_id: uuid.UUID, ref: str
) -> uuid.UUID:
    parent = await get_kb(session, workspace_id, ref)
    current: KnowledgeBase | None = parent
    for _ in range(_MAX_DEPTH):
        if current is None:
            return parent.id
        if kb is not None and current.id == kb.id:
            raise InvalidInput(
                f"'{parent.name}' cannot be the parent of '{kb.name}': it is '{kb.name}' or one of its descendants.",
                code="kb_parent_cycle",
            )
        current = await session.get(KnowledgeBase, current.parent_id) if current.parent_id else None
    raise InvalidInput(f"Knowledge bases nest at most {_MAX_DEPTH} levels deep.", code="kb_too_deep")


async def create_kb(session: AsyncSession, workspace_id: uuid.UUID, data: KnowledgeBaseIn) -> KnowledgeBase:
    parent_id = await _check_parent(session, None, workspace_id, data.parent) if data.parent else None
    kb = KnowledgeBase(
        workspace_id=workspace_id,
        name=data.name,
        description=data.description,
        status="active",
        tags=data.tags,
        parent_id=parent_id,
        content_version=0,
    )
    await _flush_unique(session, kb, data.name)
    return kb


async def _flush_unique(session: AsyncSession, kb: KnowledgeBase, name: str) -> None:
    exists = await session.scalar(
        select(KnowledgeBase.id).where(
            KnowledgeBase.workspace_id == kb.workspace_id, KnowledgeBase.name == name, KnowledgeBase.id != kb.id
        )
    )
    if exists is not None:
        raise Conflict(f"A knowledge base named '{name}' already exists in this workspace.", code="kb_exists")
    session.add(kb)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # a concurrent create with the same name won the race
        raise Conflict(f"A knowledge base named '{name}' already exists in this workspace.", code="kb_exists") from exc


async def update_kb(
    session: AsyncSession, workspace_id: uuid.UUID, name_or_id: str, data: KnowledgeBaseUpdate
) -> KnowledgeBase:
    kb = await get_kb(session, workspace_id, name_or_id)
    given = data.model_fields_set
    if data.description is not None:
        kb.description = data.description
    if data.status is not None:
        kb.status = data.status.value
    if data.tags is not None:
        kb.tags = data.tags
    if "parent" in given:
        kb.parent_id = await _check_parent(session, kb, workspace_id, data.parent) if data.parent else None
    if data.name is not None and data.name != kb.name:
        kb.name = data.name
        await _flush_unique(session, kb, data.name)
    await session.flush()
    return kb


async def delete_kb(session: AsyncSession, workspace_id: uuid.UUID, name_or_id: str) -> KnowledgeBase:
    """Deletes the knowledge base with its documents, versions, chunks, jobs and tasks (database cascades)."""
    kb = await get_kb(session, workspace_id, name_or_id)
    await session.delete(kb)
    await session.flush()
    return kb


async def bump_content_version(session: AsyncSession, kb_id: uuid.UUID) -> None:
    """Marks the knowledge base's searchable content as changed (query caches key on this)."""
    await session.execute(
        update(KnowledgeBase)
        .where(KnowledgeBase.id == kb_id)
        .values(content_version=KnowledgeBase.content_version + 1)
        .execution_options(synchronize_session=False)
    )


def require_active(kb: KnowledgeBase) -> None:
    if kb.status != "active":
        raise Conflict(
            f"Knowledge base '{kb.name}' is archived; set its status to active to add documents.", code="kb_archived"
        )


# --- documents and versions --------------------------------------------------------------------------------------


async def get_document(
    session: AsyncSession, workspace_id: uuid.UUID, document_id: uuid.UUID | str, kb_id: uuid.UUID | None = None
) -> Document:
    """A document of the workspace (and of ``kb_id`` when given); NotFound otherwise."""
    doc_id = _as_uuid(document_id)
    document = None
    if doc_id is not None:
        query = select(Document).where(Document.id == doc_id, Document.workspace_id == workspace_id)
        if kb_id is not None:
            query = query.where(Document.kb_id == kb_id)
        document = await session.scalar(query)
    if document is None:
        raise NotFound(f"No document '{document_id}' in this knowledge base.", code="document_not_found")
    return document


async def list_documents(
    session: AsyncSession,
    kb: KnowledgeBase,
    *,
    limit: int,
    offset: int,
    doc_type: str | None = None,
    tag: str | None = None,
    status: str | None = None,
    source: str | None = None,
    key_prefix: str | None = None,
) -> tuple[list[Document], int]:
    query = select(Document).where(Document.kb_id == kb.id, Document.workspace_id == kb.workspace_id)
    if doc_type:
        query = query.where(Document.doc_type == doc_type)
    if tag:
        query = query.where(Document.tags.contains([tag]))
    if status:
        query = query.where(Document.status == status)
    if source:
        query = query.where(Document.source == source)
    if key_prefix:
        query = query.where(func.starts_with(Document.source_key, key_prefix))
    return await _page(session, query.order_by(Document.source_key), limit, offset)


async def delete_document(session: AsyncSession, kb: KnowledgeBase, document_id: uuid.UUID) -> Document:
    """Deletes the document, every version and every chunk, and invalidates the knowledge base's caches."""
    document = await get_document(session, kb.workspace_id, document_id, kb.id)
    await session.execute(delete(Chunk).where(Chunk.document_id == document.id))
    await session.delete(document)
    await session.flush()
    await bump_content_version(session, kb.id)
    return document


async def list_versions(
    session: AsyncSession, document: Document, *, limit: int, offset: int
) -> tuple[list[DocumentVersion], int]:
    query = (
        select(DocumentVersion)
        .where(DocumentVersion.document_id == document.id)
        .order_by(DocumentVersion.major.desc(), DocumentVersion.minor.desc(), DocumentVersion.patch.desc())
    )
    return await _page(session, query, limit, offset)


async def get_version(session: AsyncSession, document: Document, version: str) -> DocumentVersion:
    """A version of the document by its id, ``v1.2.3`` or ``latest``."""
    if version == "latest":
        if document.latest_version_id is None:
            raise NotFound(f"'{document.source_key}' has no ready version yet.", code="version_not_found")
        version = str(document.latest_version_id)
    version_id = _as_uuid(version)
    query = select(DocumentVersion).where(DocumentVersion.document_id == document.id)
    if version_id is not None:
        query = query.where(DocumentVersion.id == version_id)
    else:
        major, minor, patch = semver.parse(version)
        query = query.where(
            DocumentVersion.major == major, DocumentVersion.minor == minor, DocumentVersion.patch == patch
        )
    found = await session.scalar(query)
    if found is None:
        raise NotFound(f"'{document.source_key}' has no version '{version}'.", code="version_not_found")
    return found


async def version_content(session: AsyncSession, version: DocumentVersion) -> bytes:
    """The raw bytes stored for a version."""
    data = await session.scalar(select(DocumentVersion.content).where(DocumentVersion.id == version.id))
    return data or b""


def download_headers(document: Document, version: DocumentVersion) -> tuple[str, dict[str, str]]:
    """The media type and headers of a version's bytes served for download: stored pages may be HTML from anywhere,
    so they are an attachment in a sandbox, never rendered in opsdesk's origin."""
    name = quote(f"{version.version}-{document.source_key.rstrip('/').rsplit('/', 1)[-1] or 'document'}", safe="")
    headers = {
        "Content-Disposition": f"attachment; filename*=UTF-8''{name}",
        "Content-Security-Policy": "sandbox",
        "X-Content-Type-Options": "nosniff",
    }
    return version.content_type or "application/octet-stream", headers


async def list_chunks(
    session: AsyncSession, version: DocumentVersion, *, limit: int, offset: int
) -> tuple[list[Chunk], int]:
    query = select(Chunk).where(Chunk.version_id == version.id).order_by(Chunk.ordinal)
    return await _page(session, query, limit, offset)


async def chunk_counts(session: AsyncSession, version_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Chunks stored per version (what is in the table, not what the version row says)."""
    if not version_ids:
        return {}
    rows = await session.execute(
        select(Chunk.version_id, func.count()).where(Chunk.version_id.in_(version_ids)).group_by(Chunk.version_id)
    )
    return {version_id: count for version_id, count in rows}
