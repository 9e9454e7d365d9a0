"""Knowledge API: knowledge bases, documents and versions (ingestion and tasks live in their own routers)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Header, Response
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.deps import Paging, paging
from opsdesk.auth.schemas import Page
from opsdesk.auth.service import Principal
from opsdesk.db.idempotency import run_idempotent
from opsdesk.knowledge import service
from opsdesk.knowledge.deps import PREFIX, can_read, can_write, guards, session_dep
from opsdesk.knowledge.ingest.routes import router as ingest_router
from opsdesk.knowledge.models import Chunk, Document, DocumentVersion, KnowledgeBase
from opsdesk.knowledge.schemas import (
    ChunkOut,
    DocumentDetail,
    DocumentOut,
    KbStatus,
    KnowledgeBaseIn,
    KnowledgeBaseOut,
    KnowledgeBaseUpdate,
    VersionOut,
)
from opsdesk.knowledge.tasks.routes import router as task_router

router = APIRouter()  # what the app includes: the routes below, ingestion's and tasks'
_kbs = APIRouter(prefix=PREFIX, tags=["knowledge"], dependencies=guards)


def kb_out(kb: KnowledgeBase) -> KnowledgeBaseOut:
    return KnowledgeBaseOut.model_validate(kb, from_attributes=True)


def document_out(document: Document) -> DocumentOut:
    return DocumentOut(
        id=document.id,
        kb_id=document.kb_id,
        source_key=document.source_key,
        title=document.title,
        source=document.source,
        doc_type=document.doc_type,
        tags=list(document.tags),
        metadata=dict(document.meta),
        status=document.status,
        error=document.error,
        latest_version_id=document.latest_version_id,
        latest_version=document.latest_version,
        created_at=document.created_at,
        updated_at=document.updated_at,
    )


def version_out(version: DocumentVersion) -> VersionOut:
    return VersionOut.model_validate(version, from_attributes=True)


@_kbs.get("", response_model=Page[KnowledgeBaseOut])
async def list_knowledge_bases(
    workspace: str,
    asked: Paging = Depends(paging),
    status: KbStatus | None = None,
    tag: str | None = None,
    name_prefix: str | None = None,
    parent: str | None = None,
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> Page[KnowledgeBaseOut]:
    parent_id = (await service.get_kb(session, principal.workspace_id, parent)).id if parent else None
    kbs, total = await service.list_kbs(
        session,
        principal.workspace_id,
        limit=asked.limit,
        offset=asked.offset,
        status=status.value if status else None,
        tag=tag,
        name_prefix=name_prefix,
        parent_id=parent_id,
    )
    return asked.page([kb_out(kb) for kb in kbs], total)


@_kbs.post("", response_model=KnowledgeBaseOut, status_code=201)
async def create_knowledge_base(
    workspace: str,
    body: KnowledgeBaseIn,
    idempotency_key: str | None = Header(default=None, max_length=200),
    principal: Principal = Depends(can_write),
    session: AsyncSession = session_dep,
) -> KnowledgeBaseOut:
    async def create() -> KnowledgeBaseOut:
        return kb_out(await service.create_kb(session, principal.workspace_id, body))

    result: KnowledgeBaseOut = await run_idempotent(
        session,
        workspace_id=principal.workspace_id,
        route="knowledge-bases",
        key=idempotency_key,
        request=body.model_dump(mode="json"),
        create=create,
    )
    return result


@_kbs.get("/{kb}", response_model=KnowledgeBaseOut)
async def get_knowledge_base(
    workspace: str, kb: str, principal: Principal = Depends(can_read), session: AsyncSession = session_dep
) -> KnowledgeBaseOut:
    """A knowledge base by name or id."""
    return kb_out(await service.get_kb(session, principal.workspace_id, kb))


@_kbs.patch("/{kb}", response_model=KnowledgeBaseOut)
async def update_knowledge_base(
    workspace: str,
    kb: str,
    body: KnowledgeBaseUpdate,
    principal: Principal = Depends(can_write),
    session: AsyncSession = session_dep,
) -> KnowledgeBaseOut:
    return kb_out(await service.update_kb(session, principal.workspace_id, kb, body))


@_kbs.delete("/{kb}", response_model=KnowledgeBaseOut)
async def delete_knowledge_base(
    workspace: str, kb: str, principal: Principal = Depends(can_write), session: AsyncSession = session_dep
) -> KnowledgeBaseOut:
    """Deletes the knowledge base with all its documents, chunks, jobs and tasks."""
    return kb_out(await service.delete_kb(session, principal.workspace_id, kb))


@_kbs.get("/{kb}/documents", response_model=Page[DocumentOut])
async def list_documents(
    workspace: str,
    kb: str,
    asked: Paging = Depends(paging),
    type: str | None = None,
    tag: str | None = None,
    status: str | None = None,
    source: str | None = None,
    key_prefix: str | None = None,
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> Page[DocumentOut]:
    base = await service.get_kb(session, principal.workspace_id, kb)
    documents, total = await service.list_documents(
        session,
        base,
        limit=asked.limit,
        offset=asked.offset,
        doc_type=type,
        tag=tag,
        status=status,
        source=source,
        key_prefix=key_prefix,
    )
    return asked.page([document_out(d) for d in documents], total)


@_kbs.get("/{kb}/documents/{document_id}", response_model=DocumentDetail)
async def get_document(
    workspace: str,
    kb: str,
    document_id: uuid.UUID,
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> DocumentDetail:
    """A document with its versions, newest first."""
    base = await service.get_kb(session, principal.workspace_id, kb)
    document = await service.get_document(session, principal.workspace_id, document_id, base.id)
    versions, total = await service.list_versions(session, document, limit=100, offset=0)
    out = document_out(document).model_dump()
    return DocumentDetail(**out, versions=[version_out(v) for v in versions], versions_total=total)


@_kbs.delete("/{kb}/documents/{document_id}", response_model=DocumentOut)
async def delete_document(
    workspace: str,
    kb: str,
    document_id: uuid.UUID,
    principal: Principal = Depends(can_write),
    session: AsyncSession = session_dep,
) -> DocumentOut:
    """Deletes the document with every version and chunk."""
    base = await service.get_kb(session, principal.workspace_id, kb)
    return document_out(await service.delete_document(session, base, document_id))


async def _version(
    session: AsyncSession, principal: Principal, kb: str, document_id: uuid.UUID, version: str
) -> tuple[Document, DocumentVersion]:
    base = await service.get_kb(session, principal.workspace_id, kb)
    document = await service.get_document(session, principal.workspace_id, document_id, base.id)
    return document, await service.get_version(session, document, version)


@_kbs.get("/{kb}/documents/{document_id}/versions", response_model=Page[VersionOut])
async def list_versions(
    workspace: str,
    kb: str,
    document_id: uuid.UUID,
    asked: Paging = Depends(paging),
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> Page[VersionOut]:
    base = await service.get_kb(session, principal.workspace_id, kb)
    document = await service.get_document(session, principal.workspace_id, document_id, base.id)
    versions, total = await service.list_versions(session, document, limit=asked.limit, offset=asked.offset)
    return asked.page([version_out(v) for v in versions], total)


@_kbs.get("/{kb}/documents/{document_id}/versions/{version}", response_model=VersionOut)
async def get_version(
    workspace: str,
    kb: str,
    document_id: uuid.UUID,
    version: str,
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> VersionOut:
    """One version by `v1.2.3`, its id, or `latest`."""
    return version_out((await _version(session, principal, kb, document_id, version))[1])


@_kbs.get("/{kb}/documents/{document_id}/versions/{version}/content")
async def get_version_content(
    workspace: str,
    kb: str,
    document_id: uuid.UUID,
    version: str,
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> Response:
    """The raw bytes stored for the version, as uploaded or fetched."""
    document, found = await _version(session, principal, kb, document_id, version)
    media, headers = service.download_headers(document, found)
    return Response(await service.version_content(session, found), media_type=media, headers=headers)


@_kbs.get("/{kb}/documents/{document_id}/versions/{version}/chunks", response_model=Page[ChunkOut])
async def list_version_chunks(
    workspace: str,
    kb: str,
    document_id: uuid.UUID,
    version: str,
    asked: Paging = Depends(paging),
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> Page[ChunkOut]:
    """The version's chunks in reading order."""
    _, found = await _version(session, principal, kb, document_id, version)
    chunks, total = await service.list_chunks(session, found, limit=asked.limit, offset=asked.offset)
    return asked.page([_chunk_out(c) for c in chunks], total)


def _chunk_out(chunk: Chunk) -> ChunkOut:
    return ChunkOut.model_validate(chunk, from_attributes=True)


for _part in (_kbs, ingest_router, task_router):
    router.include_router(_part)
