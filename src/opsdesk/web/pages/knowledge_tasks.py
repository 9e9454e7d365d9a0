"""A knowledge base's tasks: a board by status, a new task, moving one along, deleting it — the tasks API's service.
A task's dependencies are shown by title; a task whose dependencies are not done says it waits on them."""

from __future__ import annotations

import urllib.parse
import uuid
from typing import Any

from fastapi import Form, Query
from starlette.responses import RedirectResponse, Response

from opsdesk.knowledge import service as knowledge
from opsdesk.knowledge.tasks import service as tasks
from opsdesk.knowledge.tasks.schemas import TaskIn, TaskOut, TaskPriority, TaskStatus, TaskUpdate
from opsdesk.web.console import Console, PageConsole, page_router
from opsdesk.web.templating import render

router = page_router()
MAX_TASKS = 500
STATUSES = [status.value for status in TaskStatus]
PRIORITIES = [priority.value for priority in TaskPriority]
DONE = {"created": "Task added.", "moved": "Task updated.", "deleted": "Task deleted."}


def _back(kb: str, done: str) -> Response:
    return RedirectResponse(f"/knowledge/{urllib.parse.quote(kb, safe='')}/tasks?done={done}", status_code=303)


def _card(task: TaskOut, titles: dict[uuid.UUID, str], status_of: dict[uuid.UUID, str]) -> dict[str, Any]:
    waiting = [titles[d] for d in task.depends_on if status_of.get(d) != TaskStatus.done.value and d in titles]
    return {
        "id": task.id,
        "title": task.title,
        "description": task.description,
        "status": task.status.value,
        "priority": task.priority.value,
        "assignee": task.assignee,
        "depends_on": [titles.get(d, str(d)) for d in task.depends_on],
        "waiting_on": waiting,
    }


@router.get("/knowledge/{kb}/tasks")
async def tasks_page(kb: str, q: str = Query("", max_length=200), c: Console = PageConsole) -> Response:
    """The tasks in columns by status (at most 500; `q` searches titles and descriptions)."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        base = await knowledge.get_kb(db, principal.workspace_id, kb)
        found, total = await tasks.list_tasks(db, base, limit=MAX_TASKS, offset=0, search=q.strip() or None)
    titles = {task.id: task.title for task in found}
    status_of = {task.id: task.status.value for task in found}
    columns = {status: [_card(t, titles, status_of) for t in found if t.status.value == status] for status in STATUSES}
    data = {
        "kb": {"name": base.name},
        "columns": columns,
        "total": total,
        "q": q,
        "statuses": STATUSES,
        "priorities": PRIORITIES,
        "choices": [{"id": task.id, "title": task.title} for task in found],
        "flash": DONE.get(c.request.query_params.get("done", ""), ""),
    }
    return render(c, "knowledge_tasks.html", data)


@router.post("/knowledge/{kb}/tasks")
async def create_task(
    kb: str,
    title: str = Form(..., min_length=1, max_length=300),
    description: str = Form("", max_length=20_000),
    priority: TaskPriority = Form(TaskPriority.medium),
    assignee: str = Form("", max_length=200),
    depends_on: list[uuid.UUID] = Form(default_factory=list),
    c: Console = PageConsole,
) -> Response:
    """Adds a task (as POST …/tasks); a dependency that would close a cycle is refused with the cycle named."""
    principal = c.signed_in_principal
    data = TaskIn(
        title=title.strip(),
        description=description.strip(),
        priority=priority,
        assignee=assignee.strip() or None,
        depends_on=depends_on,
    )
    async with c.ctx.db.session() as db:
        await tasks.create_task(db, await knowledge.get_kb(db, principal.workspace_id, kb), data)
    return _back(kb, "created")


@router.post("/knowledge/{kb}/tasks/{task_id}/status")
async def move_task(kb: str, task_id: uuid.UUID, status: TaskStatus = Form(...), c: Console = PageConsole) -> Response:
    """Moves a task to another status (as PATCH …/tasks/{id})."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        base = await knowledge.get_kb(db, principal.workspace_id, kb)
        await tasks.update_task(db, base, task_id, TaskUpdate(status=status))
    return _back(kb, "moved")


@router.post("/knowledge/{kb}/tasks/{task_id}/delete")
async def delete_task(kb: str, task_id: uuid.UUID, c: Console = PageConsole) -> Response:
    """Deletes a task; other tasks' dependencies on it go with it (as DELETE …/tasks/{id})."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        await tasks.delete_task(db, await knowledge.get_kb(db, principal.workspace_id, kb), task_id)
    return _back(kb, "deleted")
