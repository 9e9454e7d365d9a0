"""Hidden acceptance tests for 05-expense-claims, run against the generated project (see ../README.md)."""

from __future__ import annotations

from typing import Any

from app.main import app
from fastapi.testclient import TestClient

client = TestClient(app)

CLAIM = {"employee": "Lena", "description": "Train to Lyon", "amount": 84.5, "currency": "EUR"}


def new_claim() -> int:
    response = client.post("/api/claims", json=CLAIM)
    assert response.status_code == 201, response.text
    claim_id: int = response.json()["id"]
    return claim_id


def set_status(claim_id: int, status: str) -> int:
    code: int = client.patch(f"/api/claims/{claim_id}", json={"status": status}).status_code
    return code


def status_of(claim_id: int) -> str:
    status: str = client.get(f"/api/claims/{claim_id}").json()["status"]
    return status


def test_a_new_claim_is_a_draft() -> None:
    claim_id = new_claim()
    claim = client.get(f"/api/claims/{claim_id}").json()
    assert claim["status"] == "draft" and claim["amount"] == 84.5 and claim["currency"] == "EUR"
    assert claim_id in [c["id"] for c in client.get("/api/claims").json()]


def test_a_draft_cannot_be_approved_directly() -> None:
    claim_id = new_claim()
    assert set_status(claim_id, "approved") == 409
    assert set_status(claim_id, "rejected") == 409
    assert status_of(claim_id) == "draft"


def test_a_submitted_claim_is_approved_or_rejected() -> None:
    approved, rejected = new_claim(), new_claim()
    assert set_status(approved, "submitted") == 200
    assert set_status(approved, "approved") == 200
    assert status_of(approved) == "approved"
    assert set_status(rejected, "submitted") == 200
    assert set_status(rejected, "rejected") == 200
    assert status_of(rejected) == "rejected"


def test_an_approved_claim_can_no_longer_change() -> None:
    claim_id = new_claim()
    set_status(claim_id, "submitted")
    set_status(claim_id, "approved")
    assert client.patch(f"/api/claims/{claim_id}", json={"amount": 999}).status_code == 409
    assert client.delete(f"/api/claims/{claim_id}").status_code == 409
    claim = client.get(f"/api/claims/{claim_id}").json()
    assert claim["amount"] == 84.5 and claim["status"] == "approved"


def test_invalid_claims_are_rejected() -> None:
    changes: list[dict[str, Any]] = [{"amount": 0}, {"amount": -5}, {"currency": "euro"}, {"currency": "eur"}]
    for change in changes:
        assert client.post("/api/claims", json={**CLAIM, **change}).status_code == 422, change
    assert set_status(new_claim(), "paid") == 422


def test_a_deleted_draft_is_not_found() -> None:
    claim_id = new_claim()
    assert client.delete(f"/api/claims/{claim_id}").status_code == 204
    assert client.get(f"/api/claims/{claim_id}").status_code == 404
