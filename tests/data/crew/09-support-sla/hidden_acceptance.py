"""Hidden acceptance tests for 09-support-sla, run against the generated project (see ../README.md)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from app.main import app
from fastapi.testclient import TestClient

client = TestClient(app)


def new_ticket(priority: str) -> dict[str, Any]:
    response = client.post("/api/tickets", json={"subject": "VPN down", "customer": "Acme", "priority": priority})
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


def due_after_creation(ticket: dict[str, Any]) -> timedelta:
    return datetime.fromisoformat(ticket["due_at"]) - datetime.fromisoformat(ticket["created_at"])


def test_a_p1_ticket_is_open_and_due_in_4_hours() -> None:
    ticket = new_ticket("p1")
    assert isinstance(ticket["id"], int)
    read = client.get(f"/api/tickets/{ticket['id']}").json()
    assert read["status"] == "open" and read["priority"] == "p1" and read["subject"] == "VPN down"
    assert due_after_creation(read) == timedelta(hours=4)


def test_due_times_follow_the_priority() -> None:
    assert due_after_creation(new_ticket("p2")) == timedelta(hours=24)
    assert due_after_creation(new_ticket("p3")) == timedelta(hours=72)


def test_a_priority_change_recomputes_the_due_time_from_creation() -> None:
    ticket = new_ticket("p3")
    response = client.patch(f"/api/tickets/{ticket['id']}", json={"priority": "p2"})
    assert response.status_code == 200, response.text
    read = client.get(f"/api/tickets/{ticket['id']}").json()
    assert datetime.fromisoformat(read["created_at"]) == datetime.fromisoformat(ticket["created_at"])
    assert due_after_creation(read) == timedelta(hours=24)


def test_tickets_are_filtered_by_status() -> None:
    open_ticket, resolved = new_ticket("p2"), new_ticket("p2")
    assert client.patch(f"/api/tickets/{resolved['id']}", json={"status": "resolved"}).status_code == 200
    listed = client.get("/api/tickets", params={"status": "open"}).json()
    assert open_ticket["id"] in [t["id"] for t in listed] and resolved["id"] not in [t["id"] for t in listed]
    assert all(t["status"] == "open" for t in listed)


def test_invalid_tickets_are_rejected() -> None:
    assert client.post("/api/tickets", json={"subject": "x", "customer": "Acme", "priority": "p0"}).status_code == 422
    assert client.post("/api/tickets", json={"customer": "Acme", "priority": "p1"}).status_code == 422
    ticket = new_ticket("p1")
    assert client.patch(f"/api/tickets/{ticket['id']}", json={"status": "closed"}).status_code == 422


def test_a_deleted_ticket_is_not_found() -> None:
    ticket = new_ticket("p3")
    assert client.delete(f"/api/tickets/{ticket['id']}").status_code == 204
    assert client.get(f"/api/tickets/{ticket['id']}").status_code == 404
