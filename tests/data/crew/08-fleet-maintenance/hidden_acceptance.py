"""Hidden acceptance tests for 08-fleet-maintenance, run against the generated project (see ../README.md)."""

from __future__ import annotations

from typing import Any

from app.main import app
from fastapi.testclient import TestClient

client = TestClient(app)


def new_vehicle(plate: str, odometer_km: int = 12000) -> int:
    response = client.post("/api/vehicles", json={"plate": plate, "model": "Transit", "odometer_km": odometer_km})
    assert response.status_code == 201, response.text
    vehicle_id: int = response.json()["id"]
    return vehicle_id


def record(vehicle_id: int, odometer_km: int, kind: str = "service", cost: float = 180.0) -> Any:
    body = {"vehicle_id": vehicle_id, "date": "2030-02-01", "kind": kind, "odometer_km": odometer_km, "cost": cost}
    return client.post("/api/maintenance-records", json=body)


def reading(vehicle_id: int) -> int:
    km: int = client.get(f"/api/vehicles/{vehicle_id}").json()["odometer_km"]
    return km


def test_vehicles_are_created_read_and_updated() -> None:
    vehicle_id = new_vehicle("AB-123-CD")
    vehicle = client.get(f"/api/vehicles/{vehicle_id}").json()
    assert vehicle["plate"] == "AB-123-CD" and vehicle["odometer_km"] == 12000
    assert vehicle_id in [v["id"] for v in client.get("/api/vehicles").json()]
    assert client.patch(f"/api/vehicles/{vehicle_id}", json={"model": "Sprinter"}).status_code == 200
    assert client.get(f"/api/vehicles/{vehicle_id}").json()["model"] == "Sprinter"


def test_recording_work_moves_the_vehicle_reading() -> None:
    vehicle_id = new_vehicle("EF-456-GH")
    response = record(vehicle_id, 15000)
    assert response.status_code == 201, response.text
    created = response.json()
    assert isinstance(created["id"], int) and created["kind"] == "service" and created["date"] == "2030-02-01"
    assert reading(vehicle_id) == 15000


def test_a_reading_below_the_current_one_is_refused() -> None:
    vehicle_id = new_vehicle("IJ-789-KL")
    record(vehicle_id, 15000)
    assert record(vehicle_id, 14000, "repair").status_code == 409
    assert reading(vehicle_id) == 15000
    assert record(vehicle_id, 15000, "tyres").status_code == 201


def test_invalid_records_and_vehicles_are_rejected() -> None:
    vehicle_id = new_vehicle("MN-012-OP")
    assert record(vehicle_id, 13000, "wash").status_code == 422
    assert record(vehicle_id, 13000, "repair", -1.0).status_code == 422
    assert client.post("/api/vehicles", json={"plate": "X", "model": "Y", "odometer_km": -1}).status_code == 422
    assert reading(vehicle_id) == 12000


def test_records_are_filtered_by_vehicle() -> None:
    first, second = new_vehicle("QR-345-ST"), new_vehicle("UV-678-WX")
    mine = record(first, 13000).json()
    theirs = record(second, 13000).json()
    listed = client.get("/api/maintenance-records", params={"vehicle_id": first}).json()
    assert mine["id"] in [r["id"] for r in listed] and theirs["id"] not in [r["id"] for r in listed]
    assert all(r["vehicle_id"] == first for r in listed)


def test_unknown_vehicles_are_not_found() -> None:
    assert record(987654321, 1000).status_code == 404
    vehicle_id = new_vehicle("YZ-901-AB")
    assert client.delete(f"/api/vehicles/{vehicle_id}").status_code == 204
    assert client.get(f"/api/vehicles/{vehicle_id}").status_code == 404
