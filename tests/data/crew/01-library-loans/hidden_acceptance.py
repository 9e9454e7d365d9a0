"""Hidden acceptance tests for 01-library-loans, run against the generated project (see ../README.md)."""

from __future__ import annotations

from typing import Any

from app.main import app
from fastapi.testclient import TestClient

client = TestClient(app)


def new_book(isbn: str = "9780141439518") -> dict[str, Any]:
    response = client.post("/api/books", json={"title": "Persuasion", "author": "Jane Austen", "isbn": isbn})
    assert response.status_code == 201, response.text
    book: dict[str, Any] = response.json()
    assert isinstance(book["id"], int)
    return book


def lend(book_id: int, member: str = "Ana") -> Any:
    return client.post("/api/loans", json={"book_id": book_id, "member": member, "start_date": "2030-01-10"})


def loans_of(book_id: int) -> list[dict[str, Any]]:
    response = client.get("/api/loans")
    assert response.status_code == 200
    return [loan for loan in response.json() if loan["book_id"] == book_id]


def test_books_are_created_listed_read_and_updated() -> None:
    book = new_book("0141439513")
    assert book["title"] == "Persuasion" and book["isbn"] == "0141439513"
    assert book["id"] in [b["id"] for b in client.get("/api/books").json()]
    assert client.get(f"/api/books/{book['id']}").json()["author"] == "Jane Austen"
    response = client.patch(f"/api/books/{book['id']}", json={"title": "Emma"})
    assert response.status_code == 200
    assert client.get(f"/api/books/{book['id']}").json()["title"] == "Emma"


def test_invalid_books_are_rejected() -> None:
    good = {"title": "Emma", "author": "Jane Austen", "isbn": "9780141439587"}
    for isbn in ["97801414395AB", "12345", "123456789012", "12345678901234"]:
        assert client.post("/api/books", json={**good, "isbn": isbn}).status_code == 422, isbn
    assert client.post("/api/books", json={**good, "title": ""}).status_code == 422
    assert client.post("/api/books", json={**good, "title": "x" * 201}).status_code == 422
    assert client.post("/api/books", json={"author": "Jane Austen", "isbn": "9780141439587"}).status_code == 422


def test_lending_a_book_creates_an_unreturned_loan() -> None:
    book = new_book()
    response = lend(book["id"])
    assert response.status_code == 201, response.text
    loan = response.json()
    assert isinstance(loan["id"], int)
    assert loan["book_id"] == book["id"] and loan["member"] == "Ana" and loan["returned"] is False
    assert client.get(f"/api/loans/{loan['id']}").json()["returned"] is False


def test_a_book_on_loan_cannot_be_lent_again_until_returned() -> None:
    book = new_book()
    first = lend(book["id"]).json()
    assert lend(book["id"], "Ben").status_code == 409
    assert len(loans_of(book["id"])) == 1
    response = client.patch(f"/api/loans/{first['id']}", json={"returned": True})
    assert response.status_code == 200
    assert client.get(f"/api/loans/{first['id']}").json()["returned"] is True
    assert lend(book["id"], "Ben").status_code == 201


def test_unknown_books_are_not_found() -> None:
    book = new_book()
    assert client.delete(f"/api/books/{book['id']}").status_code == 204
    assert client.get(f"/api/books/{book['id']}").status_code == 404
    assert lend(book["id"]).status_code == 404
    assert client.get("/api/loans/987654321").status_code == 404
