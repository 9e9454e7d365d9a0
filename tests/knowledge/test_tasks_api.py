"""Tasks in a knowledge base: CRUD, filters, paging, and dependencies that may never form a cycle."""

from __future__ import annotations

from typing import Any

from tests.knowledge.conftest import KnowledgeApi


async def _task(api: KnowledgeApi, title: str, **fields: Any) -> dict[str, Any]:
    response = await api.post("/ops/tasks", {"title": title, **fields})
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


async def test_create_read_update_and_delete_a_task(api: KnowledgeApi) -> None:
    await api.create_kb("ops")
    task = await _task(api, "Rotate keys", description="Quarterly", priority="high", assignee="ana")
    assert (task["status"], task["priority"], task["assignee"], task["depends_on"]) == ("todo", "high", "ana", [])

    updated = await api.patch(f"/ops/tasks/{task['id']}", {"status": "in_progress", "assignee": None})
    assert updated.status_code == 200
    assert (updated.json()["status"], updated.json()["assignee"]) == ("in_progress", None)
    assert updated.json()["description"] == "Quarterly"

    assert (await api.delete(f"/ops/tasks/{task['id']}")).status_code == 200
    assert (await api.get(f"/ops/tasks/{task['id']}")).status_code == 404
    bad = await api.post("/ops/tasks", {"title": "x", "priority": "whenever"})
    assert bad.status_code == 422


async def test_tasks_filter_by_status_priority_assignee_and_text_and_page(api: KnowledgeApi) -> None:
    await api.create_kb("ops")
    await _task(api, "Patch servers", priority="urgent", assignee="ana")
    await _task(api, "Write postmortem", description="for the outage", assignee="bo")
    await _task(api, "Order spare disks", status="done", assignee="ana")

    def titles(page: dict[str, Any]) -> list[str]:
        return [task["title"] for task in page["items"]]

    assert titles((await api.get("/ops/tasks", assignee="ana")).json()) == ["Patch servers", "Order spare disks"]
    assert titles((await api.get("/ops/tasks", priority="urgent")).json()) == ["Patch servers"]
    assert titles((await api.get("/ops/tasks", status="done")).json()) == ["Order spare disks"]
    assert titles((await api.get("/ops/tasks", q="outage")).json()) == ["Write postmortem"]
    page = (await api.get("/ops/tasks", limit=1, offset=1)).json()
    assert (page["total"], titles(page)) == (3, ["Write postmortem"])


async def test_a_dependency_cycle_is_refused_naming_the_cycle(api: KnowledgeApi) -> None:
    await api.create_kb("ops")
    design = await _task(api, "Design")
    build = await _task(api, "Build", depends_on=[design["id"]])
    ship = await _task(api, "Ship", depends_on=[build["id"]])
    assert ship["depends_on"] == [build["id"]]

    cycle = await api.patch(f"/ops/tasks/{design['id']}", {"depends_on": [ship["id"]]})
    assert cycle.status_code == 400
    error = cycle.json()["error"]
    assert error["code"] == "task_dependency_cycle"
    assert "'Design' → 'Ship' → 'Build' → 'Design'" in error["message"]
    unchanged = (await api.get(f"/ops/tasks/{design['id']}")).json()
    assert unchanged["depends_on"] == []

    itself = await api.patch(f"/ops/tasks/{design['id']}", {"depends_on": [design["id"]]})
    assert itself.status_code == 400
    assert "itself" in itself.json()["error"]["message"]


async def test_dependencies_must_be_tasks_of_the_same_knowledge_base(api: KnowledgeApi) -> None:
    await api.create_kb("ops")
    await api.create_kb("other")
    elsewhere = (await api.post("/other/tasks", {"title": "Elsewhere"})).json()
    response = await api.post("/ops/tasks", {"title": "Here", "depends_on": [elsewhere["id"]]})
    assert response.status_code == 400
    assert elsewhere["id"] in response.json()["error"]["message"]


async def test_deleting_a_task_removes_it_from_the_others_dependencies(api: KnowledgeApi) -> None:
    await api.create_kb("ops")
    first = await _task(api, "First")
    second = await _task(api, "Second")
    third = await _task(api, "Third", depends_on=[first["id"], second["id"], first["id"]])
    assert sorted(third["depends_on"]) == sorted([first["id"], second["id"]])
    await api.delete(f"/ops/tasks/{first['id']}")
    assert (await api.get(f"/ops/tasks/{third['id']}")).json()["depends_on"] == [second["id"]]
