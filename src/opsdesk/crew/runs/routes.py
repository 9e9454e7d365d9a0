"""Crew runs API under /api/v1/workspaces/{ws}/crew/runs: start a run, watch it, answer its approvals, resume it."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Header
from sqlalchemy.ext.asyncio import AsyncSession
from sse_starlette import EventSourceResponse

from opsdesk.app.context import AppContext
from opsdesk.auth.deps import Paging, get_ctx, get_session, paging, require_in_workspace
from opsdesk.auth.roles import Permission
from opsdesk.auth.schemas import Page
from opsdesk.auth.service import Principal
from opsdesk.crew.runs import service
from opsdesk.crew.runs.models import CrewRun
from opsdesk.crew.runs.schemas import Answer, ResumeIn, RunIn, RunOut, RunSummary
from opsdesk.db.idempotency import run_idempotent

router = APIRouter(prefix="/api/v1/workspaces/{workspace}/crew/runs", tags=["crew"])
can_read = require_in_workspace(Permission.read)
can_write = require_in_workspace(Permission.write)
session_dep = Depends(get_session, scope="function")


def _out(run: CrewRun) -> RunOut:
    return RunOut.model_validate(run, from_attributes=True)


@router.post("", response_model=RunOut, status_code=202)
async def create_run(
    workspace: str,
    body: RunIn,
    idempotency_key: str | None = Header(default=None, max_length=200),
    principal: Principal = Depends(can_write),
    session: AsyncSession = session_dep,
    ctx: AppContext = Depends(get_ctx),
) -> Any:
    """Starts a run on a requirement (a worker takes it to its first approval); follow it on GET …/runs/{id}."""
    service.check_model(body.model, ctx.providers.names)

    async def create() -> Any:
        run = await service.create_run(session, principal.workspace_id, body, created_by=principal.rate_key)
        await session.flush()
        await session.refresh(run)
        return _out(run).model_dump(mode="json")

    return await run_idempotent(
        session,
        workspace_id=principal.workspace_id,
        route="crew.runs",
        key=idempotency_key,
        request=body.model_dump(mode="json"),
        create=create,
        status_code=202,
    )


@router.get("", response_model=Page[RunSummary])
async def list_runs(
    workspace: str,
    asked: Paging = Depends(paging),
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> Page[RunSummary]:
    """Newest first."""
    rows, total = await service.list_runs(session, principal.workspace_id, limit=asked.limit, offset=asked.offset)
    return asked.page([RunSummary.model_validate(row, from_attributes=True) for row in rows], total)


@router.get("/{run_id}", response_model=RunOut)
async def get_run(
    workspace: str, run_id: uuid.UUID, principal: Principal = Depends(can_read), session: AsyncSession = session_dep
) -> RunOut:
    """The run with its steps, artefacts, links, tokens, cost and work time."""
    return _out(await service.get_run(session, principal.workspace_id, run_id))


@router.get("/{run_id}/events")
async def run_events(
    workspace: str, run_id: uuid.UUID, principal: Principal = Depends(can_read), ctx: AppContext = Depends(get_ctx)
) -> EventSourceResponse:
    """Server-sent events: `progress` on each change (status, gate, usage, latest step), then `completed`, `failed`
    or `stopped`."""
    async with ctx.db.session() as session:  # a short session: the stream must not hold a connection
        await service.get_run(session, principal.workspace_id, run_id)
    return EventSourceResponse(service.run_events(ctx, principal.workspace_id, run_id), ping=15)


@router.post("/{run_id}/approve", response_model=RunOut, status_code=202)
async def approve(
    workspace: str,
    run_id: uuid.UUID,
    body: Answer,
    principal: Principal = Depends(can_write),
    session: AsyncSession = session_dep,
) -> RunOut:
    """Answers the approval the run waits for: approve, edit (with the whole edited artefact) or reject (with a
    comment the step must address). 409 when the run is not waiting."""
    run = await service.submit_answer(session, principal.workspace_id, run_id, body)
    await session.flush()
    await session.refresh(run)
    return _out(run)


@router.post("/{run_id}/resume", response_model=RunOut, status_code=202)
async def resume(
    workspace: str,
    run_id: uuid.UUID,
    body: ResumeIn,
    principal: Principal = Depends(can_write),
    session: AsyncSession = session_dep,
) -> RunOut:
    """Continues a paused, stopped or failed run from its last checkpoint (optionally with a new budget)."""
    run = await service.request_resume(session, principal.workspace_id, run_id, body)
    await session.flush()
    await session.refresh(run)
    return _out(run)
