"""Hidden acceptance tests for 04-event-tickets, run against the generated project (see ../README.md)."""

from __future__ import annotations

from typing import Any

from app.main import app
from fastapi.testclient import TestClient

client = TestClient(app)


def new_event(capacity: int = 2) -> dict[str, Any]:
    body = {"name": "Jazz night", "venue": "Blue Hall", "starts_at": "2030-06-01T20:00:00", "capacity": capacity}
    response = client.post("/api/events", json=body)
    assert response.status_code == 201, response.text
    event: dict[str, Any] = response.json()
    return event


def buy(event_id: int, holder: str = "Sam") -> Any:
    return client.post("/api/tickets", json={"event_id": event_id, "holder_name": holder, "email": "sam@example.org"})


def sold(event_id: int) -> int:
    count: int = client.get(f"/api/events/{event_id}").json()["tickets_sold"]
    return count


def test_events_are_created_with_no_tickets_sold() -> None:
    event = new_event(50)
    assert isinstance(event["id"], int) and event["tickets_sold"] == 0 and event["capacity"] == 50
    assert event["id"] in [e["id"] for e in client.get("/api/events").json()]
    assert client.patch(f"/api/events/{event['id']}", json={"venue": "Red Hall"}).status_code == 200
    assert client.get(f"/api/events/{event['id']}").json()["venue"] == "Red Hall"


def test_tickets_are_sold_up_to_capacity() -> None:
    event = new_event(2)
    first = buy(event["id"], "Ana")
    assert first.status_code == 201, first.text
    assert first.json()["holder_name"] == "Ana" and first.json()["event_id"] == event["id"]
    assert buy(event["id"], "Ben").status_code == 201
    assert sold(event["id"]) == 2
    assert buy(event["id"], "Cy").status_code == 409
    assert sold(event["id"]) == 2


def test_a_refund_frees_a_place() -> None:
    event = new_event(2)
    ticket = buy(event["id"]).json()
    buy(event["id"])
    assert client.delete(f"/api/tickets/{ticket['id']}").status_code == 204
    assert client.get(f"/api/tickets/{ticket['id']}").status_code == 404
    assert sold(event["id"]) == 1
    assert buy(event["id"], "Cy").status_code == 201


def test_invalid_tickets_and_events_are_rejected() -> None:
    event = new_event(2)
    bad = {"event_id": event["id"], "holder_name": "Sam", "email": "sam.example.org"}
    assert client.post("/api/tickets", json=bad).status_code == 422
    body = {"name": "Empty", "venue": "Nowhere", "starts_at": "2030-06-01T20:00:00", "capacity": 0}
    assert client.post("/api/events", json=body).status_code == 422
    assert sold(event["id"]) == 0


def test_tickets_for_unknown_events_are_not_found() -> None:
    assert buy(987654321).status_code == 404
    assert client.get("/api/events/987654321").status_code == 404
