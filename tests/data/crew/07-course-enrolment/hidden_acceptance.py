"""Hidden acceptance tests for 07-course-enrolment, run against the generated project (see ../README.md)."""

from __future__ import annotations

import itertools
from typing import Any

from app.main import app
from fastapi.testclient import TestClient

client = TestClient(app)
_codes = itertools.count(1)


def new_course(seats: int = 1) -> int:
    body = {"code": f"HID-{next(_codes)}", "title": "Intro to SQL", "seats": seats}
    response = client.post("/api/courses", json=body)
    assert response.status_code == 201, response.text
    course_id: int = response.json()["id"]
    return course_id


def new_student(name: str) -> int:
    response = client.post("/api/students", json={"name": name, "email": f"{name.lower()}@example.org"})
    assert response.status_code == 201, response.text
    student_id: int = response.json()["id"]
    return student_id


def enrol(course_id: int, student_id: int) -> Any:
    return client.post("/api/enrolments", json={"course_id": course_id, "student_id": student_id})


def test_courses_and_students_are_created_and_read() -> None:
    course_id = new_course(12)
    course = client.get(f"/api/courses/{course_id}").json()
    assert course["seats"] == 12 and course["title"] == "Intro to SQL"
    assert course_id in [c["id"] for c in client.get("/api/courses").json()]
    student_id = new_student("Ines")
    assert client.get(f"/api/students/{student_id}").json()["email"] == "ines@example.org"


def test_a_student_enrols_in_a_course() -> None:
    course_id, student_id = new_course(), new_student("Ana")
    response = enrol(course_id, student_id)
    assert response.status_code == 201, response.text
    enrolment = response.json()
    assert isinstance(enrolment["id"], int)
    assert enrolment["course_id"] == course_id and enrolment["student_id"] == student_id


def test_a_full_course_and_a_second_enrolment_are_refused() -> None:
    course_id, ana, ben = new_course(1), new_student("Ana"), new_student("Ben")
    first = enrol(course_id, ana).json()
    assert enrol(course_id, ana).status_code == 409
    assert enrol(course_id, ben).status_code == 409
    assert client.delete(f"/api/enrolments/{first['id']}").status_code == 204
    assert enrol(course_id, ben).status_code == 201


def test_a_student_cannot_enrol_twice_even_with_free_seats() -> None:
    course_id, ana = new_course(5), new_student("Ana")
    assert enrol(course_id, ana).status_code == 201
    assert enrol(course_id, ana).status_code == 409


def test_a_course_code_is_unique() -> None:
    body = {"code": f"UNIQ-{next(_codes)}", "title": "Git", "seats": 3}
    assert client.post("/api/courses", json=body).status_code == 201
    assert client.post("/api/courses", json={**body, "title": "Other"}).status_code == 409


def test_unknown_courses_and_students_are_not_found() -> None:
    assert enrol(987654321, new_student("Ana")).status_code == 404
    assert enrol(new_course(), 987654321).status_code == 404


def test_invalid_courses_and_students_are_rejected() -> None:
    assert client.post("/api/courses", json={"code": "Z-0", "title": "None", "seats": 0}).status_code == 422
    assert client.post("/api/students", json={"name": "Bob", "email": "bob.example.org"}).status_code == 422
