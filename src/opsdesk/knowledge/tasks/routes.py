"""Tasks API: tasks inside a knowledge base, with dependencies that may not form a cycle."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Header
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.deps import Paging, paging
from opsdesk.auth.schemas import Page
from opsdesk.auth.service import Principal
from opsdesk.db.idempotency import run_idempotent
from opsdesk.knowledge import service
from opsdesk.knowledge.deps import PREFIX, can_read, can_write, guards, session_dep
from opsdesk.knowledge.tasks import service as tasks_service
from opsdesk.knowledge.tasks.schemas import TaskIn, TaskOut, TaskPriority, TaskStatus, TaskUpdate

router = APIRouter(prefix=PREFIX, tags=["knowledge"], dependencies=guards)


@router.get("/{kb}/tasks", response_model=Page[TaskOut])
async def list_tasks(
    workspace: str,
    kb: str,
    asked: Paging = Depends(paging),
    status: TaskStatus | None = None,
    priority: TaskPriority | None = None,
    assignee: str | None = None,
    q: str | None = None,
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> Page[TaskOut]:
    """Tasks in creation order; `q` searches titles and descriptions."""
    base = await service.get_kb(session, principal.workspace_id, kb)
    items, total = await tasks_service.list_tasks(
        session,
        base,
        limit=asked.limit,
        offset=asked.offset,
        status=status.value if status else None,
        priority=priority.value if priority else None,
        assignee=assignee,
        search=q,
    )
    return asked.page(items, total)


@router.post("/{kb}/tasks", response_model=TaskOut, status_code=201)
async def create_task(
    workspace: str,
    kb: str,
    body: TaskIn,
    idempotency_key: str | None = Header(default=None, max_length=200),
    principal: Principal = Depends(can_write),
    session: AsyncSession = session_dep,
) -> Any:
    base = await service.get_kb(session, principal.workspace_id, kb)

    async def create() -> TaskOut:
        return await tasks_service.create_task(session, base, body)

    return await run_idempotent(
        session,
        workspace_id=principal.workspace_id,
        route=f"knowledge-bases/{base.id}/tasks",
        key=idempotency_key,
        request=body.model_dump(mode="json"),
        create=create,
    )


@router.get("/{kb}/tasks/{task_id}", response_model=TaskOut)
async def get_task(
    workspace: str,
    kb: str,
    task_id: uuid.UUID,
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> TaskOut:
    base = await service.get_kb(session, principal.workspace_id, kb)
    return await tasks_service.read_task(session, base, task_id)


@router.patch("/{kb}/tasks/{task_id}", response_model=TaskOut)
async def update_task(
    workspace: str,
    kb: str,
    task_id: uuid.UUID,
    body: TaskUpdate,
    principal: Principal = Depends(can_write),
    session: AsyncSession = session_dep,
) -> TaskOut:
    """Changes the given fields; a `depends_on` that would close a cycle is refused with the cycle named."""
    base = await service.get_kb(session, principal.workspace_id, kb)
    return await tasks_service.update_task(session, base, task_id, body)


@router.delete("/{kb}/tasks/{task_id}", response_model=TaskOut)
async def delete_task(
    workspace: str,
    kb: str,
    task_id: uuid.UUID,
    principal: Principal = Depends(can_write),
    session: AsyncSession = session_dep,
) -> TaskOut:
    base = await service.get_kb(session, principal.workspace_id, kb)
    return await tasks_service.delete_task(session, base, task_id)
