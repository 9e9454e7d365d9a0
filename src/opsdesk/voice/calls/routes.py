"""Call records API under /api/v1/workspaces/{ws}/voice/calls: read-only; the records for whoever may read the
workspace, a call's recording for operators and admins (write permission), each download audited."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import FileResponse

from opsdesk.app.context import AppContext
from opsdesk.auth.deps import Paging, get_ctx, get_session, paging, require_in_workspace
from opsdesk.auth.roles import Permission
from opsdesk.auth.schemas import Page
from opsdesk.auth.service import Principal
from opsdesk.voice.calls import recordings, service
from opsdesk.voice.calls.models import VoiceCall
from opsdesk.voice.calls.schemas import CallOut, CallSummaryOut

router = APIRouter(prefix="/api/v1/workspaces/{workspace}/voice/calls", tags=["voice"])
can_read = require_in_workspace(Permission.read)
can_listen = require_in_workspace(Permission.write)  # recordings carry the caller's voice: operators and admins
session_dep = Depends(get_session, scope="function")


@router.get("", response_model=Page[CallSummaryOut])
async def list_calls(
    workspace: str,
    end_reason: str | None = Query(None, min_length=1, max_length=64, description="Only calls that ended so."),
    transferred: bool | None = Query(None, description="Only calls put through to a person (true) or not (false)."),
    live: bool | None = Query(None, description="Only calls going on now (true), or only ended ones (false)."),
    asked: Paging = Depends(paging),
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> Page[CallSummaryOut]:
    """The workspace's calls, newest first, by end reason, transfer and whether they are going on when asked."""
    rows, total = await service.list_calls(
        session,
        principal.workspace_id,
        end_reason=end_reason,
        transferred=transferred,
        live=live,
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


@router.get(
    "/{call_id}/recording",
    response_class=FileResponse,
    responses={200: {"content": {"audio/wav": {}}, "description": "The caller's audio as a WAV file."}},
)
async def get_call_recording(
    workspace: str,
    call_id: str,
    principal: Principal = Depends(can_listen),
    ctx: AppContext = Depends(get_ctx),
    session: AsyncSession = session_dep,
) -> FileResponse:
    """The call's recording (WAV), written to the audit log; 404 when it has none or the file is gone."""
    route = f"GET {router.prefix}/{{call_id}}/recording"
    directory = ctx.settings.voice_recordings_dir
    call, path = await recordings.recording_for_download(session, directory, principal, call_id, route=route)
    return recording_response(call, path)


def recording_response(call: VoiceCall, path: Path) -> FileResponse:
    """The recording as a download that no cache keeps, named by the record's id (a Call-ID may hold any byte)."""
    return FileResponse(
        path, media_type="audio/wav", filename=f"call-{call.id}.wav", headers={"Cache-Control": "no-store"}
    )
