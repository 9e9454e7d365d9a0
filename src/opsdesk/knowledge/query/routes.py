"""Query API: `POST /api/v1/workspaces/{workspace}/knowledge-bases/{kb}/query` (JSON or server-sent events)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sse_starlette import EventSourceResponse

from opsdesk.app.context import AppContext
from opsdesk.auth.deps import get_ctx
from opsdesk.auth.service import Principal
from opsdesk.knowledge.deps import PREFIX, can_read
from opsdesk.knowledge.query.schemas import QueryIn, QueryOut
from opsdesk.knowledge.query.service import prepare_query

router = APIRouter(prefix=PREFIX, tags=["knowledge"])


@router.post(
    "/{kb}/query",
    response_model=QueryOut,
    responses={200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE when `stream` is true."}},
)
async def query_kb(
    workspace: str,
    kb: str,
    body: QueryIn,
    principal: Principal = Depends(can_read),
    ctx: AppContext = Depends(get_ctx),
) -> QueryOut | EventSourceResponse:
    """Ranked chunks with scores and citations; with `answer`, a cited answer; with `stream`, as SSE events."""
    prepared = await prepare_query(ctx, principal.workspace_id, kb, body)
    if body.stream:
        return EventSourceResponse(prepared.events(), ping=15)
    return await prepared.run()
