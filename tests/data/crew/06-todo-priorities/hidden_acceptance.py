"""Hidden acceptance tests for 06-todo-priorities, run against the generated project (see ../README.md)."""

from __future__ import annotations

from typing import Any

from app.main import app
from fastapi.testclient import TestClient

client = TestClient(app)


def new_task(**fields: Any) -> dict[str, Any]:
    response = client.post("/api/tasks", json={"title": "Water the plants", **fields})
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


def test_a_task_with_only_a_title_has_defaults() -> None:
    task = new_task()
    assert isinstance(task["id"], int)
    read = client.get(f"/api/tasks/{task['id']}").json()
    assert read["title"] == "Water the plants" and read["priority"] == "medium" and read["done"] is False


def test_a_due_date_is_kept() -> None:
    task = new_task(priority="high", due_date="2030-05-01")
    read = client.get(f"/api/tasks/{task['id']}").json()
    assert read["priority"] == "high" and read["due_date"] == "2030-05-01"


def test_a_task_is_marked_done() -> None:
    task = new_task()
    assert client.patch(f"/api/tasks/{task['id']}", json={"done": True}).status_code == 200
    read = client.get(f"/api/tasks/{task['id']}").json()
    assert read["done"] is True and read["title"] == "Water the plants"


def test_the_list_is_filtered_by_priority_and_done() -> None:
    high, low = new_task(priority="high"), new_task(priority="low", done=True)
    by_priority = client.get("/api/tasks", params={"priority": "high"}).json()
    assert high["id"] in [t["id"] for t in by_priority]
    assert all(t["priority"] == "high" for t in by_priority)
    not_done = client.get("/api/tasks", params={"done": "false"}).json()
    assert high["id"] in [t["id"] for t in not_done] and low["id"] not in [t["id"] for t in not_done]
    assert all(t["done"] is False for t in not_done)
    everything = [t["id"] for t in client.get("/api/tasks").json()]
    assert high["id"] in everything and low["id"] in everything


def test_invalid_tasks_are_rejected() -> None:
    for body in [{"title": "x", "priority": "urgent"}, {"title": ""}, {"title": "x" * 101}, {"priority": "low"}]:
        assert client.post("/api/tasks", json=body).status_code == 422, body
    task = new_task()
    assert client.patch(f"/api/tasks/{task['id']}", json={"priority": "urgent"}).status_code == 422


def test_a_deleted_task_is_not_found() -> None:
    task = new_task()
    assert client.delete(f"/api/tasks/{task['id']}").status_code == 204
    assert client.get(f"/api/tasks/{task['id']}").status_code == 404
    assert client.patch(f"/api/tasks/{task['id']}", json={"done": True}).status_code == 404
