"""Jobs API: a workspace's background jobs (ingestion's among them); list and read (any member), retry and cancel
(admins and operators: Permission.write)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.deps import Paging, get_session, paging, require_in_workspace
from opsdesk.auth.roles import Permission
from opsdesk.auth.schemas import Page
from opsdesk.auth.service import Principal
from opsdesk.jobs import service
from opsdesk.jobs.schemas import JobOut, JobStatus, ScheduleOut

router = APIRouter(prefix="/api/v1/workspaces/{workspace}/jobs", tags=["jobs"])
can_read = require_in_workspace(Permission.read)
can_write = require_in_workspace(Permission.write)
session_dep = Depends(get_session, scope="function")


@router.get("", response_model=Page[JobOut])
async def list_jobs(
    workspace: str,
    status: list[JobStatus] | None = Query(default=None),
    task: str | None = Query(default=None, min_length=1, max_length=100, pattern=r"^[\w.\-]+$"),
    asked: Paging = Depends(paging),
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> Page[JobOut]:
    """Newest first; filter by status (repeatable) and task (a name, or a prefix such as `orders`)."""
    rows, total = await service.list_jobs(
        session,
        principal.workspace_id,
        limit=asked.limit,
        offset=asked.offset,
        status=[s.value for s in status] if status else None,
        task=task,
    )
    return asked.page([JobOut.model_validate(row) for row in rows], total)


@router.get("/schedules", response_model=Page[ScheduleOut])
async def list_schedules(
    workspace: str,
    asked: Paging = Depends(paging),
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> Page[ScheduleOut]:
    """The installation's recurring tasks (retention, SLA checks, sweeps) and when each runs next, by name. They serve
    every workspace, so they are turned on and off by whoever runs the installation: `opsdesk jobs disable NAME`."""
    rows, total = await service.page_schedules(session, limit=asked.limit, offset=asked.offset)
    return asked.page([ScheduleOut.model_validate(row) for row in rows], total)


@router.get("/{job_id}", response_model=JobOut)
async def get_job(
    workspace: str, job_id: uuid.UUID, principal: Principal = Depends(can_read), session: AsyncSession = session_dep
) -> JobOut:
    return JobOut.model_validate(await service.get_job(session, principal.workspace_id, job_id))


@router.post("/{job_id}/retry", response_model=JobOut)
async def retry_job(
    workspace: str, job_id: uuid.UUID, principal: Principal = Depends(can_write), session: AsyncSession = session_dep
) -> JobOut:
    """Queues a failed or cancelled job again, now (409 for a job that is queued, running or succeeded)."""
    return JobOut.model_validate(await service.retry_job(session, principal.workspace_id, job_id))


@router.post("/{job_id}/cancel", response_model=JobOut)
async def cancel_job(
    workspace: str, job_id: uuid.UUID, principal: Principal = Depends(can_write), session: AsyncSession = session_dep
) -> JobOut:
    """Cancels a queued or running job; a running one stops at its next heartbeat (409 for a finished job)."""
    return JobOut.model_validate(await service.cancel_job(session, principal.workspace_id, job_id))
