"""Hidden acceptance tests for 03-warehouse-stock, run against the generated project (see ../README.md)."""

from __future__ import annotations

from typing import Any

from app.main import app
from fastapi.testclient import TestClient

client = TestClient(app)


def new_product(sku: str) -> int:
    response = client.post("/api/products", json={"sku": sku, "name": "Pallet wrap"})
    assert response.status_code == 201, response.text
    product_id: int = response.json()["id"]
    return product_id


def move(product_id: int, quantity: int, reason: str = "count") -> Any:
    return client.post("/api/stock-moves", json={"product_id": product_id, "quantity": quantity, "reason": reason})


def on_hand(product_id: int) -> int:
    response = client.get(f"/api/products/{product_id}")
    assert response.status_code == 200
    quantity: int = response.json()["quantity"]
    return quantity


def test_a_new_product_has_no_stock() -> None:
    product_id = new_product("PW-1")
    assert on_hand(product_id) == 0
    assert product_id in [p["id"] for p in client.get("/api/products").json()]
    assert client.post("/api/products", json={"name": "No sku"}).status_code == 422


def test_moves_change_the_stock_on_hand() -> None:
    product_id = new_product("PW-2")
    received = move(product_id, 10, "delivery")
    assert received.status_code == 201, received.text
    assert isinstance(received.json()["id"], int)
    assert move(product_id, -3, "order 17").status_code == 201
    assert on_hand(product_id) == 7
    mine = [m for m in client.get("/api/stock-moves").json() if m["product_id"] == product_id]
    assert sorted(m["quantity"] for m in mine) == [-3, 10]
    assert client.get(f"/api/stock-moves/{received.json()['id']}").json()["reason"] == "delivery"


def test_stock_never_goes_negative() -> None:
    product_id = new_product("PW-3")
    move(product_id, 10)
    move(product_id, -3)
    assert move(product_id, -8).status_code == 409
    assert on_hand(product_id) == 7
    assert move(product_id, -7).status_code == 201
    assert on_hand(product_id) == 0


def test_invalid_and_unknown_moves_are_refused() -> None:
    product_id = new_product("PW-4")
    assert move(product_id, 0).status_code == 422
    assert client.post("/api/stock-moves", json={"product_id": product_id, "quantity": 2}).status_code == 422
    assert move(987654321, 5).status_code == 404
    assert on_hand(product_id) == 0


def test_recorded_moves_cannot_be_changed_or_deleted() -> None:
    product_id = new_product("PW-5")
    recorded = move(product_id, 4).json()
    assert client.patch(f"/api/stock-moves/{recorded['id']}", json={"quantity": 40}).status_code >= 400
    assert client.delete(f"/api/stock-moves/{recorded['id']}").status_code >= 400
    assert client.get(f"/api/stock-moves/{recorded['id']}").json()["quantity"] == 4
    assert on_hand(product_id) == 4


def test_deleted_products_are_not_found() -> None:
    product_id = new_product("PW-6")
    assert client.delete(f"/api/products/{product_id}").status_code == 204
    assert client.get(f"/api/products/{product_id}").status_code == 404
