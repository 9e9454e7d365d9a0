"""Call records API under /api/v1/workspaces/{ws}/voice/calls: read-only, for whoever may read the workspace."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.deps import Paging, get_session, paging, require_in_workspace
from opsdesk.auth.roles import Permission
from opsdesk.auth.schemas import Page
from opsdesk.auth.service import Principal
from opsdesk.voice.calls import service
from opsdesk.voice.calls.schemas import CallOut, CallSummaryOut

router = APIRouter(prefix="/api/v1/workspaces/{workspace}/voice/calls", tags=["voice"])
can_read = require_in_workspace(Permission.read)
session_dep = Depends(get_session, scope="function")


@router.get("", response_model=Page[CallSummaryOut])
async def list_calls(
    workspace: str,
    end_reason: str | None = Query(None, min_length=1, max_length=64, description="Only calls that ended so."),
    transferred: bool | None = Query(None, description="Only calls put through to a person (true) or not (false)."),
    asked: Paging = Depends(paging),
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> Page[CallSummaryOut]:
    """The workspace's calls, newest first, by end reason and transfer when asked."""
    rows, total = await service.list_calls(
        session,
        principal.workspace_id,
        end_reason=end_reason,
        transferred=transferred,
        limit=asked.limit,
        offset=asked.offset,
    )
    return asked.page([CallSummaryOut.model_validate(row) for row in rows], total)


@router.get("/{call_id}", response_model=CallOut)
async def get_call(
    workspace: str, call_id: str, principal: Principal = Depends(can_read), session: AsyncSession = session_dep
) -> CallOut:
    """One call: intents, identity check, transfers, stage latencies and the masked transcript."""
    return CallOut.model_validate(await service.get_call(session, principal.workspace_id, call_id))
