"""A knowledge base's document: its versions, the chunks of one version in reading order (what retrieval cites), the
stored bytes as a download, and deleting it — the same services as the knowledge API."""

from __future__ import annotations

import urllib.parse
import uuid
from typing import Any

from fastapi import Query
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from opsdesk.core.errors import NotFound
from opsdesk.knowledge import service as knowledge
from opsdesk.web.console import Console, PageConsole, page_router
from opsdesk.web.templating import render

router = page_router()
CHUNKS_PER_PAGE = 50
VERSION = Query("latest", min_length=1, max_length=100)


def _version(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "version": row.version,
        "status": row.status,
        "error": row.error,
        "size_bytes": row.size_bytes,
        "content_type": row.content_type,
        "chunk_count": row.chunk_count,
        "created_at": row.created_at,
    }


async def _shown(db: AsyncSession, document: Any, version: str, versions: list[Any]) -> Any | None:
    """The asked version; for `latest` while none is ready yet, the newest one (still ingesting, or failed)."""
    if not versions:
        return None
    try:
        return await knowledge.get_version(db, document, version)
    except NotFound:
        if version != "latest":
            raise
        return versions[0]


def _chunk(chunk: Any) -> dict[str, Any]:
    return {
        "ordinal": chunk.ordinal,
        "section": chunk.section_path,
        "page": chunk.page,
        "tokens": chunk.token_count,
        "text": chunk.text,
    }


@router.get("/knowledge/{kb}/documents/{document_id}")
async def document_page(
    kb: str,
    document_id: uuid.UUID,
    version: str = VERSION,
    offset: int = Query(0, ge=0, le=1_000_000),
    c: Console = PageConsole,
) -> Response:
    """The document's versions, newest first, and the chosen version's chunks (50 at a time)."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        base = await knowledge.get_kb(db, principal.workspace_id, kb)
        document = await knowledge.get_document(db, principal.workspace_id, document_id, base.id)
        versions, versions_total = await knowledge.list_versions(db, document, limit=100, offset=0)
        shown = await _shown(db, document, version, versions)
        chunks, chunks_total = (
            await knowledge.list_chunks(db, shown, limit=CHUNKS_PER_PAGE, offset=offset) if shown else ([], 0)
        )
    data = {
        "kb": {"name": base.name},
        "document": {
            "id": document.id,
            "key": document.source_key,
            "title": document.title,
            "source": document.source,
            "status": document.status,
            "error": document.error,
            "tags": list(document.tags or []),
        },
        "versions": [_version(v) for v in versions],
        "versions_total": versions_total,
        "shown": _version(shown) if shown else None,
        "chunks": [_chunk(ch) for ch in chunks],
        "chunks_total": chunks_total,
        "offset": offset,
        "next_offset": offset + CHUNKS_PER_PAGE if offset + CHUNKS_PER_PAGE < chunks_total else None,
        "previous_offset": max(0, offset - CHUNKS_PER_PAGE) if offset else None,
    }
    return render(c, "knowledge_document.html", data)


@router.get("/knowledge/{kb}/documents/{document_id}/versions/{version}/content")
async def version_content(kb: str, document_id: uuid.UUID, version: str, c: Console = PageConsole) -> Response:
    """The bytes stored for the version, as uploaded or fetched: always a download, in a sandbox."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        base = await knowledge.get_kb(db, principal.workspace_id, kb)
        document = await knowledge.get_document(db, principal.workspace_id, document_id, base.id)
        found = await knowledge.get_version(db, document, version)
        data = await knowledge.version_content(db, found)
    media, headers = knowledge.download_headers(document, found)
    return Response(data, media_type=media, headers=headers)


@router.post("/knowledge/{kb}/documents/{document_id}/delete")
async def delete_document(kb: str, document_id: uuid.UUID, c: Console = PageConsole) -> Response:
    """Deletes the document with every version and chunk (as DELETE …/documents/{id})."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        base = await knowledge.get_kb(db, principal.workspace_id, kb)
        await knowledge.delete_document(db, base, document_id)
    return RedirectResponse(f"/knowledge/{urllib.parse.quote(kb, safe='')}?done=deleted", status_code=303)
