"""Hidden acceptance tests for 02-clinic-appointments, run against the generated project (see ../README.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.main import app
from fastapi.testclient import TestClient

client = TestClient(app)


def new_patient() -> int:
    response = client.post("/api/patients", json={"name": "Maria Silva", "date_of_birth": "1980-04-02"})
    assert response.status_code == 201, response.text
    patient_id: int = response.json()["id"]
    return patient_id


def book(patient_id: int, doctor: str, starts_at: str, minutes: int = 30) -> Any:
    body = {"patient_id": patient_id, "doctor": doctor, "starts_at": starts_at, "duration_minutes": minutes}
    return client.post("/api/appointments", json=body)


def test_patients_are_created_and_read() -> None:
    patient_id = new_patient()
    patient = client.get(f"/api/patients/{patient_id}").json()
    assert patient["name"] == "Maria Silva" and patient["date_of_birth"] == "1980-04-02"
    assert patient_id in [p["id"] for p in client.get("/api/patients").json()]
    assert client.post("/api/patients", json={"name": "Future", "date_of_birth": "2999-01-01"}).status_code == 422
    assert client.post("/api/patients", json={"date_of_birth": "1980-04-02"}).status_code == 422


def test_an_appointment_is_booked_and_listed() -> None:
    response = book(new_patient(), "Dr Lee", "2030-03-01T09:00:00")
    assert response.status_code == 201, response.text
    appointment = response.json()
    assert isinstance(appointment["id"], int)
    assert datetime.fromisoformat(appointment["starts_at"]).replace(tzinfo=None) == datetime(2030, 3, 1, 9, 0)
    assert appointment["duration_minutes"] == 30 and appointment["doctor"] == "Dr Lee"
    assert appointment["id"] in [a["id"] for a in client.get("/api/appointments").json()]


def test_a_doctor_cannot_have_overlapping_appointments() -> None:
    patient_id = new_patient()
    assert book(patient_id, "Dr Lee", "2030-03-02T09:00:00").status_code == 201
    assert book(patient_id, "Dr Lee", "2030-03-02T09:15:00").status_code == 409
    assert book(patient_id, "Dr Lee", "2030-03-02T08:45:00").status_code == 409
    assert book(patient_id, "Dr Lee", "2030-03-02T09:30:00").status_code == 201
    assert book(patient_id, "Dr Park", "2030-03-02T09:15:00").status_code == 201


def test_durations_outside_10_to_120_minutes_are_rejected() -> None:
    patient_id = new_patient()
    assert book(patient_id, "Dr Cho", "2030-03-03T09:00:00", 5).status_code == 422
    assert book(patient_id, "Dr Cho", "2030-03-03T09:00:00", 180).status_code == 422
    assert book(patient_id, "Dr Cho", "2030-03-03T10:00:00", 10).status_code == 201
    assert book(patient_id, "Dr Cho", "2030-03-03T11:00:00", 120).status_code == 201


def test_unknown_patients_and_cancelled_appointments_are_not_found() -> None:
    assert book(987654321, "Dr Lee", "2030-03-04T09:00:00").status_code == 404
    appointment = book(new_patient(), "Dr Lee", "2030-03-04T10:00:00").json()
    assert client.delete(f"/api/appointments/{appointment['id']}").status_code == 204
    assert client.get(f"/api/appointments/{appointment['id']}").status_code == 404
