"""Tasks inside a knowledge base: CRUD, filters and dependencies that never form a cycle."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import delete, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.errors import InvalidInput, NotFound
from opsdesk.knowledge.models import KbTask, KbTaskDependency, KnowledgeBase
from opsdesk.knowledge.tasks.schemas import TaskIn, TaskOut, TaskPriority, TaskStatus, TaskUpdate


async def get_task(session: AsyncSession, kb: KnowledgeBase, task_id: uuid.UUID) -> KbTask:
    task = await session.scalar(
        select(KbTask).where(KbTask.id == task_id, KbTask.kb_id == kb.id, KbTask.workspace_id == kb.workspace_id)
    )
    if task is None:
        raise NotFound(f"No task '{task_id}' in this knowledge base.", code="task_not_found")
    return task


async def dependencies_of(session: AsyncSession, task_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    ids = list(task_ids)
    found: dict[uuid.UUID, list[uuid.UUID]] = {task_id: [] for task_id in ids}
    if ids:
        rows = await session.execute(
            select(KbTaskDependency.task_id, KbTaskDependency.depends_on_id)
            .where(KbTaskDependency.task_id.in_(ids))
            .order_by(KbTaskDependency.depends_on_id)
        )
        for task_id, depends_on in rows:
            found[task_id].append(depends_on)
    return found


def task_out(task: KbTask, depends_on: list[uuid.UUID]) -> TaskOut:
    return TaskOut(
        id=task.id,
        kb_id=task.kb_id,
        title=task.title,
        description=task.description,
        status=TaskStatus(task.status),
        priority=TaskPriority(task.priority),
        assignee=task.assignee,
        depends_on=depends_on,
        created_at=task.created_at,
        updated_at=task.updated_at,
    )


async def list_tasks(
    session: AsyncSession,
    kb: KnowledgeBase,
    *,
    limit: int,
    offset: int,
    status: str | None = None,
    priority: str | None = None,
    assignee: str | None = None,
    search: str | None = None,
) -> tuple[list[TaskOut], int]:
    query = select(KbTask).where(KbTask.kb_id == kb.id, KbTask.workspace_id == kb.workspace_id)
    if status:
        query = query.where(KbTask.status == status)
    if priority:
        query = query.where(KbTask.priority == priority)
    if assignee:
        query = query.where(KbTask.assignee == assignee)
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(KbTask.title.ilike(pattern, escape="\\"), KbTask.description.ilike(pattern, escape="\\"))
        )
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    tasks = list(await session.scalars(query.order_by(KbTask.created_at, KbTask.id).limit(limit).offset(offset)))
    deps = await dependencies_of(session, [task.id for task in tasks])
    return [task_out(task, deps[task.id]) for task in tasks], total


async def _set_dependencies(
    session: AsyncSession, kb: KnowledgeBase, task: KbTask, depends_on: list[uuid.UUID]
) -> None:
    wanted = list(dict.fromkeys(depends_on))
    # One writer of a knowledge base's dependency graph at a time, or two updates could each close half a cycle.
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:scope))"), {"scope": f"kb-tasks:{kb.id}"})
    if task.id in wanted:
        raise InvalidInput(f"Task '{task.title}' cannot depend on itself.", code="task_dependency_cycle")
    titles = dict(
        (
            await session.execute(
                select(KbTask.id, KbTask.title).where(KbTask.kb_id == kb.id, KbTask.workspace_id == kb.workspace_id)
            )
        ).all()
    )
    unknown = [str(item) for item in wanted if item not in titles]
    if unknown:
        raise InvalidInput(
            f"Unknown tasks in depends_on (not in this knowledge base): {', '.join(unknown)}.",
            code="task_dependency_unknown",
        )
    # Every other edge of the knowledge base, then: can any new dependency reach back to this task?
    edges: dict[uuid.UUID, list[uuid.UUID]] = {}
    rows = await session.execute(
        select(KbTaskDependency.task_id, KbTaskDependency.depends_on_id)
        .join(KbTask, KbTask.id == KbTaskDependency.task_id)
        .where(KbTask.kb_id == kb.id, KbTaskDependency.task_id != task.id)
    )
    for source, target in rows:
        edges.setdefault(source, []).append(target)
    for start in wanted:
        path = _path(edges, start, task.id)
        if path is not None:
            names = " → ".join(f"'{titles.get(node, task.title)}'" for node in [task.id, *path])
            raise InvalidInput(f"These dependencies would form a cycle: {names}.", code="task_dependency_cycle")
    await session.execute(delete(KbTaskDependency).where(KbTaskDependency.task_id == task.id))
    session.add_all(KbTaskDependency(task_id=task.id, depends_on_id=target) for target in wanted)
    await session.flush()


def _path(edges: dict[uuid.UUID, list[uuid.UUID]], start: uuid.UUID, goal: uuid.UUID) -> list[uuid.UUID] | None:
    """The dependency path from `start` to `goal` (both included), or None (iterative depth-first search)."""
    parents: dict[uuid.UUID, uuid.UUID | None] = {start: None}
    stack = [start]
    while stack:
        node = stack.pop()
        if node == goal:
            path = [node]
            while (previous := parents[path[-1]]) is not None:
                path.append(previous)
            return path[::-1]
        for target in edges.get(node, []):
            if target not in parents:
                parents[target] = node
                stack.append(target)
    return None


async def create_task(session: AsyncSession, kb: KnowledgeBase, data: TaskIn) -> TaskOut:
    task = KbTask(
        id=uuid.uuid4(),
        workspace_id=kb.workspace_id,
        kb_id=kb.id,
        title=data.title,
        description=data.description,
        status=data.status.value,
        priority=data.priority.value,
        assignee=data.assignee,
    )
    session.add(task)
    await session.flush()
    await _set_dependencies(session, kb, task, data.depends_on)
    return task_out(task, (await dependencies_of(session, [task.id]))[task.id])


async def update_task(session: AsyncSession, kb: KnowledgeBase, task_id: uuid.UUID, data: TaskUpdate) -> TaskOut:
    task = await get_task(session, kb, task_id)
    given = data.model_fields_set
    if data.title is not None:
        task.title = data.title
    if data.description is not None:
        task.description = data.description
    if data.status is not None:
        task.status = data.status.value
    if data.priority is not None:
        task.priority = data.priority.value
    if "assignee" in given:
        task.assignee = data.assignee
    if data.depends_on is not None:
        await _set_dependencies(session, kb, task, data.depends_on)
    await session.flush()
    await session.refresh(task)
    return task_out(task, (await dependencies_of(session, [task.id]))[task.id])


async def read_task(session: AsyncSession, kb: KnowledgeBase, task_id: uuid.UUID) -> TaskOut:
    task = await get_task(session, kb, task_id)
    return task_out(task, (await dependencies_of(session, [task.id]))[task.id])


async def delete_task(session: AsyncSession, kb: KnowledgeBase, task_id: uuid.UUID) -> TaskOut:
    """Deletes the task; other tasks' dependencies on it go with it."""
    out = await read_task(session, kb, task_id)
    await session.execute(delete(KbTask).where(KbTask.id == task_id))
    return out
